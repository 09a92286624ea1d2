#!/bin/sh
# 100,000 nested arrays: the parser must refuse it (depth limit), not overflow its stack.
set -eu
python3 -c "import sys; sys.stdout.write('[' * 100000 + ']' * 100000)" > "$1"
