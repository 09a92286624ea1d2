#!/bin/sh
set -eu
cd "$1"
truncate -s 2G big.bin && printf x >> big.bin
