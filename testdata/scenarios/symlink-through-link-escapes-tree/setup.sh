#!/bin/sh
set -eu
cd "$1"
mkdir -p a/b x && echo x > x/f && ln -s ../../x a/b/m && ln -s m/../.. a/b/l
