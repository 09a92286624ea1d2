#!/bin/sh
set -eu
ln -s real.json "$1/claude_desktop_config.json"
