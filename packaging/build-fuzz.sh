#!/bin/sh
# Configures the clang-14 "fuzz" preset in ./build-fuzz and builds only the libFuzzer targets
# (and the libraries they link), for the ctest "fuzz" label.
set -eu
cd "$(dirname "$0")/.."
cmake --preset fuzz
cmake --build build-fuzz -j "$(nproc)" --target fuzzers
