#!/bin/sh
# Runs redis-server with the arguments when the first one is an option
# (--save ...), else runs the arguments as a command.
set -e
case "${1:-}" in
"" | -*) set -- redis-server "$@" ;;
esac
exec "$@"
