#!/bin/sh
# Stand-in process module for config tests: only its path and mode bits matter.
exit 0
