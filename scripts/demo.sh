#!/usr/bin/env bash
# Install what is needed, build, and run the launch-vehicle demo with its
# WebSocket server on 127.0.0.1:8765 (Ctrl+C stops it). Extra arguments go to
# `hermes run`, e.g. scripts/demo.sh --mode afap --no-server
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hermes_install_deps
hermes_setup build
ninja -C build
exec ./build/cli/hermes run build/examples/launch/launch.yaml "$@"
