#!/bin/sh
set -eu
cd "$1"
echo 'evil()' >> server.py
