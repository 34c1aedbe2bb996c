#!/bin/sh
# Runs each images fuzzer for a short while on a copy of its seed corpus (the CI run; longer
# runs: the same command with more seconds). Exit 77 (ctest: skipped) when the fuzz build is
# absent: configure and build it with `cmake --preset fuzz && cmake --build build-fuzz --target
# fuzzers` (packaging/test.sh does).
# Usage: run_fuzzers.sh FUZZ_BIN_DIR CORPUS_DIR SECONDS [FUZZER...]
# (default: the images fuzzers)
set -eu
bin="$1"; corpus="$2"; seconds="$3"
shift 3
fuzzers="${*:-fuzz_reference fuzz_manifest fuzz_tar_paths}"
for f in $fuzzers; do
  if [ ! -x "$bin/$f" ]; then
    echo "fuzz: $bin/$f is not built; skipping (build the 'fuzz' preset)"
    exit 77
  fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/svc-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
for f in $fuzzers; do
  mkdir -p "$work/$f"
  cp "$corpus/$f"/* "$work/$f/" 2>/dev/null || true
  echo "fuzz: $f for ${seconds}s"
  # -timeout: one input that takes longer is a hang, reported as a failure.
  "$bin/$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$f-" "$work/$f" 2>"$work/$f.log" || {
    tail -50 "$work/$f.log"
    echo "fuzz: $f FAILED; crashing input kept as $work/$f-*"
    trap - EXIT
    exit 1
  }
  grep -E "stat::number_of_executed_units|Done" "$work/$f.log" | tail -2
done
echo "fuzz: all fuzzers ran clean"
