#!/bin/sh
# Configures and builds svc in ./build (RelWithDebInfo, warnings as errors).
set -eu
cd "$(dirname "$0")/.."
cmake --preset default
cmake --build --preset default -j "$(nproc)"
