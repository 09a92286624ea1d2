#!/bin/sh
set -eu
cd "$1"
ln -s loop-b lib/loop-a && ln -s loop-a lib/loop-b
