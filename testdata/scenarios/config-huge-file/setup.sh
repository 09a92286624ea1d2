#!/bin/sh
set -eu
python3 -c "import sys; open(sys.argv[1] + '/claude_desktop_config.json', 'w').write('{\"a\": \"' + 'x' * (5 * 1024 * 1024) + '\"}')" "$1"
