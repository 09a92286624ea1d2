#!/bin/sh
set -eu
cd "$1"
chmod +x lib/util.py
