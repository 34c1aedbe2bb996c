#!/bin/sh
# e2e: the install rules. `cmake --install` into a scratch root puts svctl and svc-runtime in
# bin/, svcd in sbin/ and svc-shim in libexec/svc/; the installed svcd finds the installed shim
# on its own (nothing from the build tree) and runs a task for the installed svctl.
# Usage: install_test.sh BUILD_DIR MAKE_DEMO_IMAGE   (root; exits 77 = skipped otherwise)
set -eu
BUILD=$1
MAKE_DEMO=$2
if [ "$(id -u)" -ne 0 ]; then echo "SVC_SKIPPED: needs root (svcd makes sandboxes)"; exit 77; fi

WORK=$(mktemp -d /tmp/svc-install-test.XXXXXX)
TAG=svc-install-test-$$
SVCD_PID=""
cleanup() {
  set +e
  if [ -n "$SVCD_PID" ]; then
    for id in $($SVCTL ps -aq 2>/dev/null); do $SVCTL rm -f "$id" >/dev/null 2>&1; done
    kill -TERM "$SVCD_PID" 2>/dev/null
    wait "$SVCD_PID" 2>/dev/null
  fi
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    for name in "$TAG" "$TAG-shims"; do
      [ -d "$d$name" ] && find "$d$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
fail() { echo "install_test: $*" >&2; [ -f "$WORK/svcd.log" ] && tail -n 30 "$WORK/svcd.log" >&2; exit 1; }

ROOT=$WORK/root
# As packaging/quickstart.sh installs: the programs only.
DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr/local --component programs \
  >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "cmake --install failed"; }
P=$ROOT/usr/local
for f in bin/svctl bin/svc-runtime sbin/svcd libexec/svc/svc-shim; do
  [ -x "$P/$f" ] || fail "$f was not installed (install.log: $(cat "$WORK/install.log"))"
done

# The programs only: the unit, sysusers and tmpfiles snippets are the .deb's (under /lib, not
# the prefix), so a /usr/local install must not put them on the host.
[ ! -e "$ROOT/lib" ] || fail "the programs' install put files outside the prefix: $(cd "$ROOT" && find lib -type f)"
# The installed programs, and only them: a shim from the build tree must not be what runs.
mkdir -p "$WORK/state" "$WORK/run"
printf '[isolation]\ncgroup_base = "%s"\nshim_cgroup = "%s-shims"\n' "$TAG" "$TAG" >"$WORK/svcd.toml"
env -u SVC_SHIM "$P/sbin/svcd" --config "$WORK/svcd.toml" --state-dir "$WORK/state" \
  --run-dir "$WORK/run" >"$WORK/svcd.log" 2>&1 &
SVCD_PID=$!
SVCTL="$P/bin/svctl --host unix://$WORK/run/svcd.sock"
i=0
until $SVCTL node info >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 300 ] || fail "the installed svcd did not start"
  kill -0 "$SVCD_PID" 2>/dev/null || fail "the installed svcd exited"
  sleep 0.1
done
sh "$MAKE_DEMO" "$WORK/layout" >/dev/null
$SVCTL image import "$WORK/layout" >/dev/null || fail "image import"
out=$($SVCTL run --rm demo/busybox -- echo installed-ok) || fail "svctl run"
[ "$out" = "installed-ok" ] || fail "the task printed '$out'"
# The shim that supervises a running task is the installed one.
id=$($SVCTL run -d demo/busybox -- sleep 300) || fail "svctl run -d"
# run -d returns once the task is RUNNING, so its shim exists.
i=0
until $SVCTL -o json inspect "$id" 2>/dev/null | grep -q '"state": *"RUNNING"'; do
  i=$((i + 1))
  [ $i -lt 300 ] || fail "task $id did not reach RUNNING: $($SVCTL inspect "$id" 2>&1)"
  sleep 0.1
done
found=""
for exe in /proc/[0-9]*/exe; do
  [ "$(readlink "$exe" 2>/dev/null)" = "$P/libexec/svc/svc-shim" ] && found=yes && break
done
$SVCTL rm -f "$id" >/dev/null
[ -n "$found" ] || fail "no svc-shim from $P/libexec/svc is running the task"
"$P/bin/svc-runtime" --version >/dev/null 2>&1 || "$P/bin/svc-runtime" --help >/dev/null ||
  fail "the installed svc-runtime does not run"
echo "install_test: ok"
