#!/bin/sh
# Sandbox start benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing).
#   `svc-runtime run` vs `crun run` vs `runc run` of /bin/true on one busybox-static bundle, with
#   and without a Docker-style seccomp profile (/usr/share/containers/seccomp.json, the profile
#   Podman ships); sandboxes started per second; then svc's in-process path (what svcd does) and
#   the shim's memory.
# Usage: sandbox_start.sh BENCH_DRIVER SVC_RUNTIME SVC_SHIM [RUNS] [SECONDS] [PARALLEL]
# crun refuses this host's hybrid cgroups while hugetlb sits alone on the cgroup2 mount; the
# script mounts hugetlb as a v1 hierarchy for the run and undoes it on exit (trap).
set -eu

DRIVER=$1
SVC=$2
SHIM=$3
RUNS=${4:-200}
SECONDS_TP=${5:-10}
PARALLEL=${6:-2}

. "$(dirname "$0")/bench_lib.sh"
bench_requires sandbox_start.sh crun runc jq busybox
WORK=$(mktemp -d /tmp/svc-bench-start-XXXXXX)
TAG=$$
cleanup() {
  set +e
  for rt in "crun --root $WORK/crun" "runc --root $WORK/runc"; do
    for id in $($rt list -q 2>/dev/null); do $rt delete -f "$id" >/dev/null 2>&1; done
  done
  for id in $("$SVC" --root "$WORK/svc" list -q 2>/dev/null); do
    "$SVC" --root "$WORK/svc" --cgroup-base "svc-bench-rt-$TAG" --shim-cgroup "svc-shims-rt-$TAG" \
      delete -f "$id" >/dev/null 2>&1
  done
  sleep 0.2
  for d in /sys/fs/cgroup/*/; do
    for name in "svc-bench-rt-$TAG" "svc-shims-rt-$TAG"; do
      [ -d "$d$name" ] && find "$d$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  hugetlb_give
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The bundle: busybox-static and /bin/true.
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
ln -s busybox "$B/rootfs/bin/sh"
# runc's default config (pid, net, ipc, uts, mount namespaces; no user namespace), running
# /bin/true; svc-runtime adds a user namespace and a private id range to it on its own.
(cd "$B" && runc spec)
jq '.process.args = ["/bin/true"] | .process.terminal = false' "$B/config.json" > "$B/plain.json"
SECCOMP=/usr/share/containers/seccomp.json
if [ -f "$SECCOMP" ]; then
  jq --slurpfile p "$SECCOMP" '.linux.seccomp = $p[0]' "$B/plain.json" > "$B/seccomp.json"
fi
# One bundle per variant (runc refuses a symlinked root); hard links keep it one copy.
mkdir -p "$WORK/plain" "$WORK/seccomp"
cp -al "$B/rootfs" "$WORK/plain/rootfs"
cp "$B/plain.json" "$WORK/plain/config.json"
if [ -f "$B/seccomp.json" ]; then
  cp -al "$B/rootfs" "$WORK/seccomp/rootfs"
  cp "$B/seccomp.json" "$WORK/seccomp/config.json"
fi

# crun and the hybrid layout.
hugetlb_take

SVCRT="$SVC --root $WORK/svc --cgroup-base svc-bench-rt-$TAG --shim-cgroup svc-shims-rt-$TAG"
CASES=$WORK/cases
: > "$CASES"
for variant in plain seccomp; do
  [ -f "$WORK/$variant/config.json" ] || continue
  label=$([ "$variant" = plain ] && echo "no seccomp" || echo "Docker seccomp profile")
  printf 'svc-runtime run, %s\t%s run --bundle %s {id}\n' "$label" "$SVCRT" "$WORK/$variant" >> "$CASES"
  printf 'crun run, %s\tcrun --root %s/crun run --bundle %s {id}\n' "$label" "$WORK" "$WORK/$variant" >> "$CASES"
  printf 'runc run, %s\trunc --root %s/runc run --bundle %s {id}\n' "$label" "$WORK" "$WORK/$variant" >> "$CASES"
done
# Each must work once before it is timed.
while IFS="$(printf '\t')" read -r name cmd; do
  one=$(echo "$cmd" | sed "s/{id}/probe-$TAG/")
  if ! $one >/dev/null 2>"$WORK/err"; then
    echo "sandbox_start.sh: '$name' fails here: $(cat "$WORK/err")" >&2
  fi
done < "$CASES"

echo "Host: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), $RUNS interleaved runs per case"
echo
"$DRIVER" commands "$CASES" "$RUNS" "$SECONDS_TP" "$PARALLEL"
"$DRIVER" library "$B/rootfs" "$SHIM" "$RUNS" "$SECONDS_TP" "$PARALLEL"
