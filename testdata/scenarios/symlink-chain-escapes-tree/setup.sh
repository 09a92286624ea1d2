#!/bin/sh
set -eu
cd "$1"
mkdir -p a/b/c && ln -s .. a/b/c/up && ln -s c/up/.. a/b/up2 && ln -s b/up2/../.. a/escape
