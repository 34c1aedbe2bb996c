#!/bin/sh
# README command (2), and what CI runs: install what is needed, build, run every test layer
# (unit, integration, e2e, security, fuzz) and print ctest's summary. Root is needed for the
# layers that use the real kernel: without it they are reported as skipped (never as passed),
# and this script says so loudly, before and after the run.
set -eu
cd "$(dirname "$0")/.."

not_root_banner() {
  cat >&2 <<'BANNER'
==============================================================================================
test.sh: NOT RUNNING AS ROOT - THIS IS NOT A FULL TEST RUN.
The integration, e2e and security tests (real namespaces, mounts, cgroups, sandboxes) need root;
ctest reports them as "Skipped" with the reason. Run `sudo ./packaging/test.sh` for a full run.
==============================================================================================
BANNER
}

if [ "$(id -u)" -ne 0 ]; then not_root_banner; fi
./packaging/install-deps.sh
./packaging/build.sh
./packaging/build-fuzz.sh
cd build
# Each test gets its own timeout from CMake; --timeout is the backstop for a hung one.
rc=0
ctest --output-on-failure --timeout 900 -j 1 "$@" || rc=$?
if [ "$(id -u)" -ne 0 ]; then not_root_banner; fi
exit "$rc"
