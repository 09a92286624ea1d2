#!/bin/sh
set -eu
cd "$1"
mkdir -p .git && echo x > .git/HEAD
