#!/bin/sh
# README command (1): install what is needed, build only what runs (svcd, svctl, svc-shim,
# svc-runtime, and svc-hello for the demo; not the test suite), install them under /usr/local
# (svctl and svc-runtime on PATH, svcd in /usr/local/sbin, svc-shim in /usr/local/libexec/svc),
# start svcd with its embedded defaults, import the demo images, run a first task, deploy the
# demo service, hit it from zero and show its bill. svcd keeps running in the
# background; its log is /var/log/svcd.log. Stop it with: sudo pkill -x svcd
# (its tasks keep running under their shims; a restarted svcd re-adopts them).
# Build and apt output go to a log (shown when a step fails); the terminal gets one line per step.
set -eu
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PREFIX=/usr/local
LOG=$(mktemp /tmp/svc-quickstart.XXXXXX.log)

step() { printf 'quickstart: %s\n' "$*"; }
failed() {
  printf '\nquickstart: %s failed; the last lines of %s:\n' "$1" "$LOG" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}

step "installing the Debian packages svc needs (log: $LOG)"
./packaging/install-deps.sh >>"$LOG" 2>&1 || failed "installing packages"

step "configuring"
cmake --preset default >>"$LOG" 2>&1 || failed "cmake --preset default"

# Ninja's "[n/N]" lines become one line redrawn in place; the status of the build itself (not
# of the filter) decides, through a file, since sh has no pipefail.
status=$(mktemp)
{
  if cmake --build build -j "$(nproc)" --target svcd svctl svc-shim svc-runtime svc-init svc-hello 2>&1; then
    echo 0 >"$status"
  else
    echo $? >"$status"
  fi
} | tee -a "$LOG" | awk '
  /^\[[0-9]+\/[0-9]+\]/ { n = $1; gsub(/[\[\]]/, "", n); printf "\rquickstart: building svcd, svctl, svc-shim, svc-runtime: %s   ", n; fflush() }
  END { printf "\n" }'
rc=$(cat "$status")
rc=${rc:-1}
rm -f "$status"
[ "$rc" -eq 0 ] || failed "the build"

step "installing svcd, svctl, svc-runtime and svc-shim under $PREFIX"
# The programs' install rules (component "programs", the same ones tests/e2e/install_test.sh
# checks); the package's files (unit, man pages, config) are the .deb's, not /usr/local's.
$SUDO cmake --install build --prefix "$PREFIX" --component programs >>"$LOG" 2>&1 ||
  failed "cmake --install"
# The socket's group: its members use svctl without sudo (svcd gives the socket to it).
getent group svc >/dev/null || $SUDO groupadd --system svc

SVCTL="$PREFIX/bin/svctl"
if [ -S /run/svcd/svcd.sock ] && $SUDO "$SVCTL" node info >/dev/null 2>&1; then
  step "svcd is already running (stop it with: sudo pkill -x svcd)"
else
  step "starting svcd (log: /var/log/svcd.log)"
  $SUDO sh -c "nohup $PREFIX/sbin/svcd >>/var/log/svcd.log 2>&1 &"
  i=0
  until $SUDO "$SVCTL" node info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
      echo "quickstart: svcd did not come up; its log:" >&2
      $SUDO tail -n 30 /var/log/svcd.log >&2
      exit 1
    fi
    sleep 0.1
  done
fi
$SUDO "$SVCTL" node info
echo

# The demo images (no registry needed): demo/busybox from this machine's busybox-static, for
# tasks, and demo/hello, the project's own static HTTP server alone in its image, for a service.
demo=$(mktemp -d)
./packaging/make-demo-image.sh "$demo/layout" build/packaging/svc-hello >>"$LOG" 2>&1 ||
  failed "making the demo images"
chmod -R a+rX "$demo"
$SUDO "$SVCTL" image import "$demo/layout"
rm -rf "$demo"
echo
echo "$ svctl run --rm demo/busybox -- sh -c 'echo hello from a sandbox; id; hostname'"
$SUDO "$SVCTL" run --rm demo/busybox -- sh -c 'echo hello from a sandbox; id; hostname'
echo

# A service: a URL with no instance until a request comes, back to none when idle, billed.
if [ -n "$($SUDO "$SVCTL" node info -o json | sed -n 's/.*"ingressAddress": *"\([^"]*\)".*/\1/p')" ]; then
  echo "$ svctl deploy hello demo/hello --idle-timeout 30s"
  url=$($SUDO "$SVCTL" deploy hello demo/hello --idle-timeout 30s -o json |
        sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' | head -n 1)
  if [ -n "$url" ]; then
    printf '%s\n' "$ curl -w 'Server-Timing: %header{server-timing}\\n' $url   # the first request starts an instance"
    # The answer that paid for the cold start says what it took, phase by phase.
    curl -sS --max-time 30 -w 'Server-Timing: %header{server-timing}\n' "$url" ||
      echo "quickstart: the service did not answer (svctl service describe hello)" >&2
    echo "$ svctl service instances hello"
    $SUDO "$SVCTL" service instances hello
    echo "$ svctl usage --by service   # billed per second while it exists; 30 s idle: none"
    $SUDO "$SVCTL" usage --by service
  else
    echo "quickstart: svctl deploy hello failed (svctl service describe hello)" >&2
  fi
  echo
fi
echo "svcd is running. Try (with sudo, or as a member of group svc: sudo usermod -aG svc \$USER,"
echo "then log in again):"
echo "  svctl run -d --name web demo/busybox -- httpd -f -p 8080"
echo "  svctl ps; svctl logs web; svctl stop web; svctl rm web"
echo "  svctl services; svctl service logs hello; svctl service rm hello"
echo "  curl --unix-socket /run/svcd/svcd.sock 'http://svcd/v1/tasks?all=true'"
echo "Stop svcd with: sudo pkill -x svcd"
rm -f "$LOG"
