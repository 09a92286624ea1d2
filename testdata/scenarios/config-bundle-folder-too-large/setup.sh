#!/bin/sh
set -eu
mkdir "$1/b"
cd "$1/b"
i=0
while [ $i -le 10000 ]; do : > "f$i"; i=$((i+1)); done
