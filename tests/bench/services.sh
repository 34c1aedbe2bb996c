#!/bin/sh
# Services benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing):
#   1. cold start: a request at svcd's ingress for a service with zero instances -> full
#      response (image on disk, svc-test-httpd), interleaved run by run with `crun run -d` of the
#      same server + polling its port, and `svc-runtime run -d` (svc's bare sandbox, no daemon,
#      no proxy) of the same bundle + polling; the cold start's own phases from Server-Timing;
#   2. a warm request, for scale;
#   3. 1,000 requests at once at a service at zero (concurrency 10, max 50): time until all are
#      answered, ROUNDS times (back to zero between rounds).
# Usage: services.sh BENCH SVCD SVCTL SVC_RUNTIME TEST_HTTPD [COLD_RUNS] [BURST_ROUNDS]
#   BENCH is bench_services. Run it under `flock /tmp/svc-bench.lock` on a shared machine.
set -eu

BENCH=$1
SVCD=$2
SVCTL=$3
SVC=$4
HTTPD=$5
RUNS=${6:-100}
ROUNDS=${7:-3}

. "$(dirname "$0")/bench_lib.sh"
bench_requires services.sh crun jq busybox
WORK=$(mktemp -d /tmp/svc-bench-services-XXXXXX)
TAG=$$
SV="$SVCTL --host unix://$WORK/run/svcd.sock"
SVCRT="$SVC --root $WORK/svc --cgroup-base svc-bench-svcrt-$TAG --shim-cgroup svc-shims-svcrt-$TAG"
SVCD_PID=""
cleanup() {
  set +e
  if [ -n "$SVCD_PID" ]; then
    for s in $($SV services -q 2>/dev/null); do $SV service rm "$s" >/dev/null 2>&1; done
    # Instances drain and get SIGTERM (svc-test-httpd exits at once): wait until none is left.
    i=0
    while [ "$($SV node info -o json 2>/dev/null | jq -r '.runningInstances // 0')" != 0 ] && [ $i -lt 300 ]; do
      i=$((i + 1))
      sleep 0.1
    done
    for id in $($SV ps -aq 2>/dev/null); do $SV rm -f "$id" >/dev/null 2>&1; done
    kill -TERM "$SVCD_PID" 2>/dev/null
    wait "$SVCD_PID" 2>/dev/null
  fi
  for id in $(crun --root "$WORK/crun" list -q 2>/dev/null); do crun --root "$WORK/crun" delete -f "$id" >/dev/null 2>&1; done
  for id in $($SVCRT list -q 2>/dev/null); do $SVCRT delete -f "$id" >/dev/null 2>&1; done
  sleep 0.2
  for d in /sys/fs/cgroup/*/; do
    for name in "svc-bench-svc-$TAG" "svc-bench-svc-$TAG-shims" "svc-bench-svcrt-$TAG" "svc-shims-svcrt-$TAG"; do
      [ -d "$d$name" ] && find "$d$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  hugetlb_give
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# svcd with its embedded defaults, its own dirs and cgroups, the ingress on a port of its own.
mkdir -p "$WORK/state" "$WORK/run"
cat > "$WORK/svcd.toml" <<TOML
[ingress]
listen = "127.0.0.1:0"
[isolation]
cgroup_base = "svc-bench-svc-$TAG"
shim_cgroup = "svc-bench-svc-$TAG-shims"
TOML
"$SVCD" --config "$WORK/svcd.toml" --state-dir "$WORK/state" --run-dir "$WORK/run" \
  --log-level warn >"$WORK/svcd.log" 2>&1 &
SVCD_PID=$!
i=0
until $SV node info >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "services.sh: svcd did not start:"; cat "$WORK/svcd.log"; exit 1; }
  sleep 0.1
done
PORT=$($SV node info -o json | jq -r .ingressAddress | sed 's/.*://')
"$BENCH" layout "$WORK/layout" "$HTTPD"
$SV image import "$WORK/layout" >/dev/null
IMAGE=bench/test-httpd:1

# One service per cold start, each at zero until its one request.
i=1
while [ $i -le "$RUNS" ]; do
  $SV deploy "cold-$i" "$IMAGE" >/dev/null 2>&1
  i=$((i + 1))
done
# A first one untimed (page cache, seccomp cache).
$SV deploy warmup "$IMAGE" >/dev/null 2>&1
curl -s -o /dev/null "http://warmup.localhost:$PORT/"

# The peers' bundle: the same busybox and svc-test-httpd, runc's default config without a
# network namespace, so the server listens on the host's 127.0.0.1:PEER_PORT to be polled.
PEER_PORT=$("$BENCH" freeport)
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
cp "$HTTPD" "$B/rootfs/bin/svc-test-httpd"
(cd "$B" && runc spec 2>/dev/null || crun spec)
jq --arg port "$PEER_PORT" '.process.args = ["/bin/svc-test-httpd"] | .process.terminal = false
    | .process.env += ["PORT=" + $port, "HOST=127.0.0.1"]
    | .linux.namespaces |= map(select(.type != "network"))' "$B/config.json" > "$B/config.new"
mv "$B/config.new" "$B/config.json"
hugetlb_take

CASES=$WORK/cases
printf 'crun run -d + poll its port\tcrun --root %s/crun run -d --bundle %s {id}\tcrun --root %s/crun delete -f {id}\n' \
  "$WORK" "$B" "$WORK" > "$CASES"
printf 'svc-runtime run -d + poll its port (svc sandbox alone)\t%s run -d --bundle %s {id}\t%s delete -f {id}\n' \
  "$SVCRT" "$B" "$SVCRT" >> "$CASES"

echo "Host: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "crun $(crun --version | head -1 | awk '{print $3}'), $RUNS interleaved cold starts per case"
echo
"$BENCH" coldstart "$PORT" cold "$RUNS" "$CASES" "$PEER_PORT"
echo
"$BENCH" warm "$PORT" warmup.localhost 200
echo

$SV deploy burst "$IMAGE" --concurrency 10 --max-instances 50 --idle-timeout 2s >/dev/null 2>&1
r=1
while [ $r -le "$ROUNDS" ]; do
  i=0
  while [ "$($SV service instances burst -o json | jq '.instances | length')" != 0 ] && [ $i -lt 600 ]; do
    i=$((i + 1))
    sleep 0.1
  done
  printf 'round %s: ' "$r"
  "$BENCH" burst "$PORT" burst.localhost 1000
  r=$((r + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
