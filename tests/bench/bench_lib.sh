# Sourced by the benchmark scripts that run crun and runc beside svc.
#   bench_requires NAME TOOL...  exits 0 with "SVC_SKIPPED: <why>" unless root and every tool is
#       installed (ctest reads the marker: SKIP_REGULAR_EXPRESSION, tests/support/skip.hpp)
#   hugetlb_take / hugetlb_give  crun refuses this host's hybrid cgroup layout while hugetlb sits
#       alone on the cgroup2 mount ("cgroups in hybrid mode not supported"): take mounts hugetlb
#       as a v1 hierarchy for the run (HUGETLB_MOUNTED=1 when it did), give hands it back; call
#       give from the EXIT trap.

bench_requires() {
  name=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "SVC_SKIPPED: $name needs root"
    exit 0
  fi
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "SVC_SKIPPED: $name needs $tool, which is not installed (packaging/install-deps.sh)"
      exit 0
    fi
  done
}

HUGETLB_MOUNTED=""

hugetlb_take() {
  if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null &&
    ! grep -q " /sys/fs/cgroup/hugetlb " /proc/self/mountinfo; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    HUGETLB_MOUNTED=1
  fi
}

hugetlb_give() {
  [ -n "$HUGETLB_MOUNTED" ] || return 0
  # The kernel destroys an unmounted v1 hierarchy (and rebinds the controller to cgroup2) only
  # once it has no child cgroups: move any process left in one (crun or runc may still be
  # removing theirs) to the root, remove them, unmount; retry.
  H=/sys/fs/cgroup/hugetlb
  for attempt in 1 2 3 4 5 6 7 8; do
    if ! grep -q " $H " /proc/self/mountinfo; then
      mount -t cgroup -o hugetlb cgroup "$H" 2>/dev/null || break
    fi
    for d in $(find "$H" -mindepth 1 -depth -type d 2>/dev/null); do
      for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo "$p" > "$H/cgroup.procs"; done
      rmdir "$d" 2>/dev/null
    done
    umount "$H" 2>/dev/null
    sleep 0.5
    if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers; then break; fi
  done
  grep -q " $H " /proc/self/mountinfo && umount "$H"
  rmdir "$H" 2>/dev/null
  grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers ||
    echo "hugetlb.sh: WARNING: hugetlb did not return to the cgroup2 mount" >&2
  HUGETLB_MOUNTED=""
}
