#!/bin/sh
# Deliberately not executable (mode 0644): config tests expect an error.
exit 0
