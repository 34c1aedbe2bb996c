#!/bin/sh
# Exec latency benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing).
#   `svc-runtime exec` vs `crun exec` vs `runc exec` of /bin/true into a running `sleep` of the
#   same busybox-static bundle, with and without a Docker-style seccomp profile; interleaved
#   runs, medians and p95 by the sandbox_start driver.
# Usage: exec.sh BENCH_DRIVER SVC_RUNTIME SVC_SHIM [RUNS]
set -eu

DRIVER=$1
SVC=$2
SHIM=$3
RUNS=${4:-200}

. "$(dirname "$0")/bench_lib.sh"
bench_requires exec.sh crun runc jq busybox
WORK=$(mktemp -d /tmp/svc-bench-exec-XXXXXX)
TAG=$$
SVCRT="$SVC --root $WORK/svc --cgroup-base svc-bench-ex-$TAG --shim-cgroup svc-shims-ex-$TAG"
export SVC_SHIM="$SHIM"
cleanup() {
  set +e
  for rt in "crun --root $WORK/crun" "runc --root $WORK/runc" "$SVCRT"; do
    for id in $($rt list -q 2>/dev/null); do $rt delete -f "$id" >/dev/null 2>&1; done
  done
  sleep 0.2
  for d in /sys/fs/cgroup/*/; do
    for name in "svc-bench-ex-$TAG" "svc-shims-ex-$TAG"; do
      [ -d "$d$name" ] && find "$d$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  hugetlb_give
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
for a in true sh sleep; do ln -s busybox "$B/rootfs/bin/$a"; done
(cd "$B" && runc spec)
jq '.process.args = ["/bin/sleep", "100000"] | .process.terminal = false' "$B/config.json" > "$B/plain.json"
SECCOMP=/usr/share/containers/seccomp.json
if [ -f "$SECCOMP" ]; then
  jq --slurpfile p "$SECCOMP" '.linux.seccomp = $p[0]' "$B/plain.json" > "$B/seccomp.json"
fi
hugetlb_take

CASES=$WORK/cases
: > "$CASES"
for variant in plain seccomp; do
  [ -f "$B/$variant.json" ] || continue
  label=$([ "$variant" = plain ] && echo "no seccomp" || echo "Docker seccomp profile")
  for rt in svc crun runc; do
    mkdir -p "$WORK/$rt-$variant"
    cp -al "$B/rootfs" "$WORK/$rt-$variant/rootfs"
    cp "$B/$variant.json" "$WORK/$rt-$variant/config.json"
  done
  id=ex-$variant-$TAG
  $SVCRT run --detach --bundle "$WORK/svc-$variant" "$id" </dev/null >/dev/null 2>"$WORK/err" ||
    echo "exec.sh: svc-runtime run: $(cat "$WORK/err")" >&2
  crun --root "$WORK/crun" run --detach --bundle "$WORK/crun-$variant" "$id" </dev/null >/dev/null 2>"$WORK/err" ||
    echo "exec.sh: crun run: $(cat "$WORK/err")" >&2
  runc --root "$WORK/runc" run --detach --bundle "$WORK/runc-$variant" "$id" </dev/null >/dev/null 2>"$WORK/err" ||
    echo "exec.sh: runc run: $(cat "$WORK/err")" >&2
  printf 'svc-runtime exec, %s\t%s exec %s /bin/true\n' "$label" "$SVCRT" "$id" >> "$CASES"
  printf 'crun exec, %s\tcrun --root %s/crun exec %s /bin/true\n' "$label" "$WORK" "$id" >> "$CASES"
  printf 'runc exec, %s\trunc --root %s/runc exec %s /bin/true\n' "$label" "$WORK" "$id" >> "$CASES"
done
while IFS="$(printf '\t')" read -r name cmd; do
  if ! $cmd >/dev/null 2>"$WORK/err"; then
    echo "exec.sh: '$name' fails here: $(cat "$WORK/err")" >&2
  fi
done < "$CASES"

echo "Host: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), $RUNS interleaved runs per case"
echo
"$DRIVER" commands "$CASES" "$RUNS" 0 1
