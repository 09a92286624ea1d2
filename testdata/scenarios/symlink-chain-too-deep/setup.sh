#!/bin/sh
set -eu
cd "$1"
i=0; while [ $i -lt 40 ]; do ln -s l$((i+1)) lib/l$i; i=$((i+1)); done; ln -s util.py lib/l40
