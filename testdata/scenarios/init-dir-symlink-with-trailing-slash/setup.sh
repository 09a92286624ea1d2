#!/bin/sh
set -eu
ln -s server "$1/link"
