#!/bin/sh
set -eu
cd "$1"
mkfifo pipe
