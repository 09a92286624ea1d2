#!/bin/sh
set -eu
cd "$1"
rm lib/util.py
