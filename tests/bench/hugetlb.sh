# Sourced by the benchmarks that run crun. crun refuses this host's hybrid cgroup layout while
# hugetlb sits alone on the cgroup2 mount ("cgroups in hybrid mode not supported"): these
# functions mount hugetlb as a v1 hierarchy for the run and give it back afterwards.
#   hugetlb_take     mounts it (sets HUGETLB_MOUNTED=1 when it did)
#   hugetlb_give     undoes it; call from the EXIT trap

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
