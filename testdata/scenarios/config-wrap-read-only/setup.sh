#!/bin/sh
set -eu
chmod 0444 "$1/claude_desktop_config.json"
