#!/bin/sh
# A 65 MiB "bundle" (JSON whitespace around an empty object): over the 64 MiB document limit, so
# it must be refused without being parsed or held whole in memory.
set -eu
{ printf '{'; head -c 68157440 /dev/zero | tr '\0' ' '; printf '}'; } > "$1"
