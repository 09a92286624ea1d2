#!/bin/sh
set -eu
echo "an older backup" > "$1/claude_desktop_config.json.mcpsig-backup"
