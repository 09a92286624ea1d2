#!/bin/sh
# A 3 GiB sparse "key" at $1 (no disk blocks used), mode 0600 so only the size can refuse it.
set -eu
: > "$1"
chmod 600 "$1"
truncate -s 3G "$1"
