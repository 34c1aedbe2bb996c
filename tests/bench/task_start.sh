#!/bin/sh
# Task start benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing):
#   `svctl run --rm IMAGE -- /bin/true` through a real svcd (image already on the node) against
#   `crun run` of an equivalent busybox bundle (with and without a Docker-style seccomp profile)
#   and `podman run --rm` of the same image, interleaved, plus starts per second.
# Usage: task_start.sh DRIVER SVCD SVCTL MAKE_DEMO_IMAGE [RUNS] [SECONDS] [PARALLEL]
#   DRIVER is bench_sandbox_start (its "commands" mode times command lines).
set -eu

DRIVER=$1
SVCD=$2
SVCTL=$3
MAKE_DEMO=$4
RUNS=${5:-100}
SECONDS_TP=${6:-5}
PARALLEL=${7:-2}

. "$(dirname "$0")/bench_lib.sh"
bench_requires task_start.sh crun runc jq busybox
WORK=/tmp/svc-bench-task-$$  # lowercase: podman names images after the layout path
rm -rf "$WORK"; mkdir -p "$WORK"
TAG=$$
SOCK="$WORK/run/svcd.sock"
SVCTL_H="$SVCTL --host unix://$SOCK"
SVCD_PID=""
PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --cgroup-manager cgroupfs --events-backend none"
cleanup() {
  set +e
  if [ -n "$SVCD_PID" ]; then
    for id in $($SVCTL_H ps -aq 2>/dev/null); do $SVCTL_H rm -f "$id" >/dev/null 2>&1; done
    kill -TERM "$SVCD_PID" 2>/dev/null
    wait "$SVCD_PID" 2>/dev/null
  fi
  for id in $(crun --root "$WORK/crun" list -q 2>/dev/null); do crun --root "$WORK/crun" delete -f "$id" >/dev/null 2>&1; done
  if command -v podman >/dev/null 2>&1; then
    CONTAINERS_CONF="$WORK/containers.conf" $PODMAN rm -af >/dev/null 2>&1
  fi
  # Anything podman's storage left mounted under WORK.
  grep " $WORK" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount "$m" 2>/dev/null; done
  sleep 0.2
  for d in /sys/fs/cgroup/*/; do
    for name in "svc-bench-task-$TAG" "svc-bench-task-$TAG-shims"; do
      [ -d "$d$name" ] && find "$d$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  hugetlb_give
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# svcd with its embedded defaults, but its own dirs and cgroups.
mkdir -p "$WORK/state" "$WORK/run"
cat > "$WORK/svcd.toml" <<TOML
[isolation]
cgroup_base = "svc-bench-task-$TAG"
shim_cgroup = "svc-bench-task-$TAG-shims"
TOML
"$SVCD" --config "$WORK/svcd.toml" --state-dir "$WORK/state" --run-dir "$WORK/run" \
  --log-level warn >"$WORK/svcd.log" 2>&1 &
SVCD_PID=$!
i=0
until $SVCTL_H node info >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "task_start.sh: svcd did not start:"; cat "$WORK/svcd.log"; exit 1; }
  sleep 0.1
done
sh "$MAKE_DEMO" "$WORK/layout" >/dev/null
$SVCTL_H image import "$WORK/layout" >/dev/null
$SVCTL_H run --rm demo/busybox -- /bin/true

# The crun bundle: the same busybox, runc's default config running /bin/true.
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
(cd "$B" && runc spec)
jq '.process.args = ["/bin/true"] | .process.terminal = false' "$B/config.json" > "$WORK/plain.json"
mkdir -p "$WORK/plain"
cp -al "$B/rootfs" "$WORK/plain/rootfs"
cp "$WORK/plain.json" "$WORK/plain/config.json"
SECCOMP=/usr/share/containers/seccomp.json
if [ -f "$SECCOMP" ]; then
  mkdir -p "$WORK/seccomp"
  cp -al "$B/rootfs" "$WORK/seccomp/rootfs"
  jq --slurpfile p "$SECCOMP" '.linux.seccomp = $p[0]' "$WORK/plain.json" > "$WORK/seccomp/config.json"
fi
hugetlb_take

CASES=$WORK/cases
printf 'svctl run --rm (svcd: full sandbox, seccomp, user namespace)\t%s run --rm demo/busybox -- /bin/true\n' "$SVCTL_H" > "$CASES"
printf 'crun run, no seccomp\tcrun --root %s/crun run --bundle %s/plain {id}\n' "$WORK" "$WORK" >> "$CASES"
if [ -d "$WORK/seccomp" ]; then
  printf 'crun run, Docker seccomp profile\tcrun --root %s/crun run --bundle %s/seccomp {id}\n' "$WORK" "$WORK" >> "$CASES"
fi
# podman runs offline from the same OCI layout. Its default rlimits exceed this host's hard
# limits (NOFILE 20000), so it gets a containers.conf that asks for less.
if command -v podman >/dev/null 2>&1; then
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' > "$WORK/containers.conf"
  if CONTAINERS_CONF="$WORK/containers.conf" $PODMAN pull "oci:$WORK/layout:demo/busybox:latest" >"$WORK/podman.log" 2>&1; then
    IMG=$(CONTAINERS_CONF="$WORK/containers.conf" $PODMAN images -q | head -1)
    if CONTAINERS_CONF="$WORK/containers.conf" $PODMAN run --rm --network none "$IMG" /bin/true >>"$WORK/podman.log" 2>&1; then
      printf 'podman run --rm (crun)\tenv CONTAINERS_CONF=%s %s run --rm --network none %s /bin/true\n' \
        "$WORK/containers.conf" "$PODMAN" "$IMG" >> "$CASES"
    else
      echo "task_start.sh: podman run fails here: $(tail -1 "$WORK/podman.log")" >&2
    fi
  else
    echo "task_start.sh: podman pull fails here: $(tail -1 "$WORK/podman.log")" >&2
  fi
fi

echo "Host: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "crun $(crun --version | head -1 | awk '{print $3}'), podman $(podman --version 2>/dev/null | awk '{print $3}'), $RUNS interleaved runs per case"
echo
"$DRIVER" commands "$CASES" "$RUNS" "$SECONDS_TP" "$PARALLEL"
