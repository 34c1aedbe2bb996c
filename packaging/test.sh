#!/bin/sh
# README command (2), and what CI runs: install what is needed, build, run every test layer
# (unit, integration, e2e, security, fuzz) and print ctest's summary. Root is needed for the
# layers that use the real kernel; they skip with a message without it.
set -eu
cd "$(dirname "$0")/.."
./packaging/install-deps.sh
./packaging/build.sh
./packaging/build-fuzz.sh
cd build
# Each test gets its own timeout from CMake; --timeout is the backstop for a hung one.
ctest --output-on-failure --timeout 900 -j 1 "$@"
