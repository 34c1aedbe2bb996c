#!/bin/sh
# The package as an operator meets it, in a fresh Debian 12 root (debootstrap, cached): build the
# .deb with cpack in a fresh directory, lint it, install it with apt, check what it put where,
# start svcd from the installed files by hand (a chroot has no systemd), run tasks as root, as a
# member of group svc and as a user outside it, upgrade to a rebuilt package while a task runs
# (the task survives and the new svcd re-adopts it), remove (tasks and svcd stop, config and
# state stay), purge (nothing of svc is left).
#
#   package_test.sh BUILD_DIR SOURCE_DIR
#
# Root only; exit 77 (ctest: skipped) without root, debootstrap or a reachable Debian mirror.
# Everything runs in a private mount namespace, so the chroot's /proc, /sys and /dev mounts
# vanish with it whatever happens; the EXIT trap kills what the test started in the chroot and
# removes its cgroups and its directory.
set -eu
build=$(cd "${1:?usage: package_test.sh BUILD_DIR SOURCE_DIR}" && pwd)
src=$(cd "${2:?usage: package_test.sh BUILD_DIR SOURCE_DIR}" && pwd)

if [ "$(id -u)" -ne 0 ]; then echo "package_test: skipped: needs root (chroot, mounts)"; exit 77; fi
for tool in cpack unshare chroot lintian jq; do
  command -v "$tool" >/dev/null || { echo "package_test: skipped: $tool missing (packaging/install-deps.sh)"; exit 77; }
done
if [ -z "${SVC_PKGTEST_INNER:-}" ]; then
  SVC_PKGTEST_INNER=1 exec unshare --mount --propagation private sh "$0" "$build" "$src"
fi

t0=$(date +%s)
work=$(mktemp -d /tmp/svc-pkgtest.XXXXXX)
root=$work/root
tag="svc-pkgtest-$$"
phase() { echo "package_test: [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "package_test: FAILED: $*" >&2; exit 1; }
in_root() { chroot "$root" "$@"; }
svctl() { chroot "$root" env SVC_HOST= SVC_TOKEN= /usr/bin/svctl "$@"; }

# Every process of the test's Debian root: in a chroot of it (dpkg, svctl), or in the node's
# mount namespace (svcd, shims, tasks; see start_node).
node_ns=
chroot_pids() {
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null || true)" = "$root" ] ||
       { [ -n "$node_ns" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null || true)" = "$node_ns" ]; }; then
      echo "${p#/proc/}"
    fi
  done
  return 0
}
remove_cgroups() {
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    for name in "$tag" "$tag-shims"; do
      [ -d "$h/$name" ] && find "$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  done
  return 0
}
cleanup() {
  rc=$?
  set +e
  if [ "$rc" -ne 0 ] && [ -f "$work/svcd.log" ]; then
    echo "--- svcd log (last 40 lines)"; tail -n 40 "$work/svcd.log"
  fi
  pids=$(chroot_pids)
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  i=0
  while [ -n "$(chroot_pids)" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  remove_cgroups
  # Nothing is mounted under $work outside this namespace; inside it, unmount before rm.
  grep " $work/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
  phase "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- build the package twice: the release and a rebuilt one to upgrade to ---
phase "cpack into $work/pkg"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg2" \
  -D CPACK_DEBIAN_PACKAGE_VERSION="$(dpkg-deb -f "$work"/pkg/svc_*.deb Version)+rebuild1" \
  > "$work/cpack2.log" 2>&1 || { cat "$work/cpack2.log"; fail "cpack (rebuild)"; }
deb=$(ls "$work"/pkg/svc_*_*.deb)
deb2=$(ls "$work"/pkg2/svc_*_*.deb)
case "$(basename "$deb")" in svc_*_"$(dpkg --print-architecture)".deb) ;; *) fail "package name $deb";; esac

phase "lintian $(basename "$deb")"
# Errors and warnings fail the test; each override in packaging/debian/svc.lintian-overrides
# says why it is there.
lintian --fail-on error,warning "$deb" || fail "lintian"
dpkg-deb -f "$deb" Depends | grep -q "libgrpc++" || fail "Depends lacks the shared libraries (dpkg-shlibdeps)"
dpkg-deb -f "$deb" Depends | grep -q "libc6" || fail "Depends lacks libc6"
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "/etc/svcd/svcd.toml" ] || fail "conffiles"

phase "Debian 12 root (debootstrap, cached)"
sh "$src/tests/package/debian_chroot.sh" "$root"
mount --bind "$root" "$root"  # a mount point of its own, for pivot_root below
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
cache=${SVC_PKGTEST_CACHE:-/var/cache/svc-pkgtest}
mkdir -p "$cache/archives/partial"
mount --bind "$cache/archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$deb2" "$root/tmp/"

phase "install with apt (dependencies from the mirror, cached)"
install_deb() {
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/tmp/$1" \
    < /dev/null > "$work/apt.log" 2>&1
}
if ! install_deb "$(basename "$deb")"; then
  # Package lists older than the mirror: refresh once.
  in_root apt-get update -q > "$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log"; echo "package_test: skipped: the mirror cannot be reached"; exit 77; }
  install_deb "$(basename "$deb")" || { cat "$work/apt.log"; fail "apt-get install $(basename "$deb")"; }
fi
in_root dpkg-query -W -f '${Status} ${Version}\n' svc | grep -q "install ok installed" || fail "not installed"

phase "what the package put where"
for f in /usr/sbin/svcd /usr/bin/svctl /usr/bin/svc-runtime /usr/libexec/svc/svc-shim; do
  [ -x "$root$f" ] || fail "$f missing"
done
[ -f "$root/etc/svcd/svcd.toml" ] || fail "/etc/svcd/svcd.toml missing"
in_root getent group svc > /dev/null || fail "group svc was not created"
[ "$(stat -c %a "$root/var/lib/svcd")" = 711 ] || fail "/var/lib/svcd is $(stat -c %a "$root/var/lib/svcd"), not 0711"
# The shipped config is the embedded defaults, every key commented out.
in_root /usr/sbin/svcd --print-config > "$work/printed.toml"
in_root /usr/sbin/svcd --print-config --config /etc/svcd/svcd.toml > "$work/printed-conffile.toml"
cmp -s "$work/printed.toml" "$work/printed-conffile.toml" || fail "svcd.toml is not the defaults"
# Man pages and completions are where man and bash-completion look.
in_root man -w svcd svctl svc-runtime > /dev/null || fail "man pages"
for page in man1/svctl.1 man1/svc-runtime.1 man8/svcd.8; do
  # -l: read the file as is (no cat page is cached, which purge would then find)
  in_root man --warnings -E UTF-8 -l "/usr/share/man/$page.gz" 2>&1 > /dev/null | grep . && fail "man $page has warnings"
done
out=$(in_root bash -c '. /usr/share/bash-completion/completions/svctl; COMP_WORDS=(svctl ima); COMP_CWORD=1; _svctl; echo "${COMPREPLY[*]}"')
echo "$out" | grep -qw images || fail "bash completion of 'svctl ima': '$out'"
# The unit, as systemd itself reads it (offline: no systemd runs here).
in_root systemd-analyze verify /lib/systemd/system/svcd.service > "$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
[ -s "$work/verify.log" ] && { cat "$work/verify.log"; fail "systemd-analyze verify printed warnings"; }
in_root systemd-analyze security --offline=true /lib/systemd/system/svcd.service > "$work/security.log" 2>&1 || true
score=$(grep -o "Overall exposure level for svcd.service: .*" "$work/security.log" || true)
[ -n "$score" ] || { cat "$work/security.log"; fail "systemd-analyze security gave no score"; }
phase "systemd-analyze security: $score"
[ -L "$root/etc/systemd/system/multi-user.target.wants/svcd.service" ] || fail "svcd.service not enabled"

# The operator's edit of the conffile (cgroups of this test's own, so that a real svcd on this
# host is never touched); it must survive the upgrade.
sed -i -e "s|^#cgroup_base = .*|cgroup_base = \"$tag\"|" -e "s|^#shim_cgroup = .*|shim_cgroup = \"$tag-shims\"|" \
  "$root/etc/svcd/svcd.toml"
grep -q "^cgroup_base = \"$tag\"" "$root/etc/svcd/svcd.toml" || fail "could not edit svcd.toml"

# The node: a mount namespace whose root *is* the Debian root (pivot_root, not chroot: the
# kernel refuses user namespaces to a chrooted process, and every sandbox needs one). One
# namespace for every svcd the test starts, as on a real host, so that a restarted svcd finds
# the mounts of the tasks it re-adopts. A sleeping process holds it.
start_node() {
  mkdir -p "$root/.oldroot"
  setsid unshare --mount --propagation private sh -c '
    cd "$1" && pivot_root . .oldroot && cd / && umount -l /.oldroot && rmdir /.oldroot &&
    exec sleep infinity' sh "$root" < /dev/null > "$work/node.log" 2>&1 &
  node_pid=$!
  i=0
  until [ ! -d "$root/.oldroot" ]; do
    i=$((i + 1))
    [ "$i" -gt 100 ] && { cat "$work/node.log"; fail "the node namespace did not come up"; }
    [ -d "/proc/$node_pid" ] || { cat "$work/node.log"; fail "the node namespace holder exited"; }
    sleep 0.1
  done
  node_ns=$(readlink "/proc/$node_pid/ns/mnt")
}
start_svcd() {
  # As the unit would: svcd from the installed files, the default config, state and run dirs.
  setsid nsenter --target "$node_pid" --mount --root --wd /usr/sbin/svcd \
    >> "$work/svcd.log" 2>&1 < /dev/null &
  i=0
  until svctl node info > /dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -gt 300 ] && fail "svcd did not answer within 30 s"
    sleep 0.1
  done
  svcd_pid=$(head -n 1 "$root/var/lib/svcd/svcd.lock")
}
stop_svcd() {
  kill -TERM "$svcd_pid"
  i=0
  while [ -d "/proc/$svcd_pid" ]; do
    i=$((i + 1))
    [ "$i" -gt 150 ] && fail "svcd did not stop within 15 s"
    sleep 0.1
  done
}
# A process that still runs: one that exited and waits for whoever inherited it to reap it (a
# zombie, state Z) does not.
runs() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}
task_field() {  # task_field NAME FIELD: one field of the task as svctl inspect -o json shows it
  svctl inspect "$1" -o json | jq -r ".$2 // empty"
}

phase "start svcd from the installed files; tasks"
start_node
start_svcd
sh "$src/packaging/make-demo-image.sh" "$root/tmp/demo" "$build/packaging/svc-hello" > /dev/null
svctl image import /tmp/demo > /dev/null || fail "svctl image import"
out=$(svctl run --rm demo/busybox -- echo hello from the package) || fail "svctl run: $out"
[ "$out" = "hello from the package" ] || fail "task printed '$out'"
in_root stat -c "%U:%G %a" /run/svcd/svcd.sock | grep -qx "root:svc 660" || fail "socket is $(in_root stat -c "%U:%G %a" /run/svcd/svcd.sock)"
# Group svc decides who may use the socket.
in_root useradd --no-create-home --groups svc alice
in_root useradd --no-create-home bob
chroot --userspec=alice --groups=svc "$root" env SVC_HOST= /usr/bin/svctl ps > /dev/null || fail "alice (group svc) cannot use the socket"
set +e
chroot --userspec=bob "$root" env SVC_HOST= /usr/bin/svctl ps > "$work/bob.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 4 ] || { cat "$work/bob.out"; fail "bob (not in group svc) got exit $rc, not 4 (permission denied)"; }
# A service, with one instance kept warm so that one runs across the upgrade. The ingress is
# svcd's default, 127.0.0.1:8080 (the node shares the host's network namespace).
svctl deploy web demo/busybox --min-instances 1 -- \
  sh -c 'mkdir -p /www && echo "hello from the package" > /www/index.html && exec httpd -f -p 8080 -h /www' \
  > /dev/null 2> "$work/deploy.log" || { cat "$work/deploy.log"; fail "svctl deploy"; }
served=$(curl -sS --max-time 30 http://web.localhost:8080/) || fail "the service did not answer"
[ "$served" = "hello from the package" ] || fail "the service answered '$served'"
instance_pid() {  # the pid of the service's ready instance
  svctl service instances web -o json | jq -r '[.instances[]? | select(.state == "READY")][0].pid // empty'
}
web_pid=$(instance_pid)
[ -n "$web_pid" ] && kill -0 "$web_pid" || fail "no ready instance of web"
svctl run -d --name survivor demo/busybox -- sleep 3600 > /dev/null || fail "svctl run -d"
[ "$(task_field survivor state)" = RUNNING ] || fail "survivor is not running"
task_pid=$(task_field survivor pid)
[ -n "$task_pid" ] && kill -0 "$task_pid" || fail "no pid for survivor"

phase "upgrade to $(basename "$deb2") while survivor runs"
old_inode=$(stat -c %i "$root/usr/sbin/svcd")
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "/tmp/$(basename "$deb2")" < /dev/null > "$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "dpkg -i (upgrade)"; }
[ "$(stat -c %i "$root/usr/sbin/svcd")" != "$old_inode" ] || fail "the upgrade did not replace /usr/sbin/svcd"
grep -q "^cgroup_base = \"$tag\"" "$root/etc/svcd/svcd.toml" || fail "the upgrade lost the edited svcd.toml"
kill -0 "$task_pid" || fail "the upgrade killed the task"
# What the unit does after an upgrade (postinst: restart): the old svcd stops, the new one
# starts from the new files and re-adopts the task.
stop_svcd
kill -0 "$task_pid" || fail "stopping svcd killed the task"
start_svcd
case "$(readlink "/proc/$svcd_pid/exe")" in *deleted*) fail "svcd still runs the old binary";; esac
[ "$(task_field survivor state)" = RUNNING ] || fail "after the upgrade survivor is $(task_field survivor state)"
[ "$(task_field survivor pid)" = "$task_pid" ] || fail "survivor has another pid"
svctl images | grep -q demo/busybox || fail "the upgrade lost the image store"
[ "$(instance_pid)" = "$web_pid" ] || fail "the instance of web was not re-adopted (pid $(instance_pid), was $web_pid)"
served=$(curl -sS --max-time 30 http://web.localhost:8080/) || fail "the service did not answer after the upgrade"
[ "$served" = "hello from the package" ] || fail "after the upgrade the service answered '$served'"
svctl service rm web > /dev/null || fail "svctl service rm web"
i=0
while runs "$web_pid"; do  # drained: httpd as PID 1 ignores SIGTERM, SIGKILL after 10 s
  i=$((i + 1)); [ "$i" -gt 200 ] && fail "the instance of web still runs after service rm"; sleep 0.1
done
svctl stop -t 5s survivor > /dev/null || fail "the new svcd cannot stop the re-adopted task"
svctl wait survivor > /dev/null 2>&1 || true
[ "$(task_field survivor state)" = STOPPED ] || fail "survivor is $(task_field survivor state) after stop"
[ "$(task_field survivor stopReason)" = StoppedByUser ] || fail "survivor stopped for $(task_field survivor stopReason)"
i=0
while runs "$task_pid"; do  # the shim reaps it right after recording the exit
  i=$((i + 1)); [ "$i" -gt 100 ] && fail "survivor's process still runs after stop"; sleep 0.1
done

phase "remove: the node drains (tasks and instances stop), svcd stops, configuration and state stay"
svctl run -d --name leftover demo/busybox -- sleep 3600 > /dev/null || fail "svctl run -d leftover"
left_pid=$(task_field leftover pid)
# The project's own demo service (it stops on SIGTERM at once), one instance kept warm.
svctl deploy kept demo/hello --min-instances 1 > /dev/null 2> "$work/deploy.log" || { cat "$work/deploy.log"; fail "svctl deploy kept"; }
served=$(curl -sS --max-time 30 http://kept.localhost:8080/) || fail "kept did not answer"
case "$served" in "hello from svc (instance "*) ;; *) fail "kept answered '$served'";; esac
kept_pid=$(svctl service instances kept -o json | jq -r '[.instances[]? | select(.state == "READY")][0].pid // empty')
[ -n "$kept_pid" ] && kill -0 "$kept_pid" || fail "no ready instance of kept"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -r svc < /dev/null > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r"; }
grep -q "node drained: .* 1 task(s) stopped, 1 instance(s) drained; nothing runs" "$work/remove.log" || { cat "$work/remove.log"; fail "the prerm did not drain the node"; }
[ -d "/proc/$svcd_pid" ] && fail "svcd still runs after remove"
# The prerm waited for both, so they are gone now (a zombie waiting for the host's init is
# not running).
for pid in "$left_pid" "$kept_pid"; do
  if runs "$pid"; then
    cat "$work/remove.log"; ps -o pid,ppid,stat,etime,cmd -p "$pid" || true
    ps -ef | grep -E "svc-shim|sleep 3600|svc-hello" | grep -v grep || true
    fail "pid $pid (a task or an instance) still runs after remove"
  fi
done
[ -e "$root/usr/sbin/svcd" ] && fail "svcd is still installed"
[ -f "$root/etc/svcd/svcd.toml" ] || fail "remove deleted the configuration"
[ -f "$root/var/lib/svcd/svcd.db" ] || fail "remove deleted the state"
in_root dpkg-query -W -f '${Status}\n' svc | grep -q "config-files" || fail "not in config-files state"

phase "purge: nothing of svc is left"
# The chroot's /sys is the host's: unmount it, so that the postrm's cgroup clean-up cannot touch
# the cgroups of a real svcd on this host (this test removes its own below).
umount -R "$root/sys"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -P svc < /dev/null > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg -P"; }
# The node's holder goes; nothing else may be left in the node or the chroot.
kill -KILL "$node_pid"
i=0
while [ -n "$(chroot_pids)" ]; do
  i=$((i + 1)); [ "$i" -gt 50 ] && fail "processes left after purge: $(chroot_pids)"; sleep 0.1
done
in_root getent group svc > /dev/null && fail "group svc is left"
in_root dpkg-query -W svc > /dev/null 2>&1 && fail "dpkg still knows svc"
left=$(cd "$root" && find . -xdev \( -name 'svc*' -o -name '*svcd*' -o -name '_svc*' \) \
  -not -path './tmp/*' -not -path './var/cache/apt/*' -not -path './var/cache/man/*' | head -n 20)
# (/var/cache/man: man-db's cache of formatted pages, written when systemd-analyze verify read
# the unit's man: links above; man-db's daily job expires it, as for every package.)
[ -z "$left" ] || fail "left after purge: $left"
# Cgroups: the postrm removes the empty cgroups of the default names; this test's names are
# its own (and the chroot had no /sys by then), so it checks that no process is left in them
# and removes them itself at exit.
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
  for name in "$tag" "$tag-shims"; do
    [ -d "$h/$name" ] || continue
    busy=$(find "$h/$name" -name cgroup.procs -exec cat {} + 2>/dev/null | head -n 5)
    [ -z "$busy" ] || fail "processes left in the cgroups under $h/$name: $busy"
  done
done
phase "PASSED"
