#!/bin/sh
set -eu
cd "$1"
echo x > extra.py
