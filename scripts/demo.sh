#!/usr/bin/env bash
# Install what is needed, build, and run the launch-vehicle demo with its
# WebSocket server and viewer on http://127.0.0.1:8765/ (printed once it runs;
# Ctrl+C stops it). Extra arguments go to
# `hermes run`, e.g. scripts/demo.sh --mode afap --no-server
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hermes_install_deps
hermes_viewer_setup build || echo "warning: npm ci --prefix viewer failed: the page at / will only say how to build the viewer" >&2
hermes_setup build
ninja -C build
port=8765 serve=1 prev=""
for a in "$@"; do
    case "$prev" in --port) port=$a ;; esac
    case "$a" in --no-server) serve=0 ;; --port=*) port=${a#--port=} ;; esac
    prev=$a
done
if [ "$serve" = 1 ]; then
    (sleep 1; echo "demo: open http://127.0.0.1:$port/ in a browser (Ctrl+C stops the run)") &
fi
exec ./build/cli/hermes run build/examples/launch/launch.yaml "$@"
