#!/bin/sh
set -eu
cd "$1"
ln -s util.py lib/x && ln -s x lib/y && ln -s . lib/here && ln -s here/here/y lib/z && ln -s lib/here/../lib docs && ln -s not-yet.py lib/later
