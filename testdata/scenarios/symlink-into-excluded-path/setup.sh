#!/bin/sh
set -eu
cd "$1"
mkdir .git && ln -s / .git/root && ln -s ../.git lib/git
