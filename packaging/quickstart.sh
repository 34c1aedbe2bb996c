#!/bin/sh
# README command (1): install what is needed, build, start svcd with its embedded defaults and
# show the node. svcd keeps running in the background; its log is /var/log/svcd.log.
# Stop it with: sudo pkill -TERM -x svcd
set -eu
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

./packaging/install-deps.sh
./packaging/build.sh

if [ -S /run/svcd/svcd.sock ] && $SUDO ./build/cli/svctl node info >/dev/null 2>&1; then
  echo "quickstart: svcd is already running"
else
  echo "quickstart: starting svcd (log: /var/log/svcd.log)"
  $SUDO sh -c 'nohup ./build/daemon/svcd >>/var/log/svcd.log 2>&1 &'
  i=0
  until $SUDO ./build/cli/svctl node info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
      echo "quickstart: svcd did not come up; its log:" >&2
      $SUDO tail -n 30 /var/log/svcd.log >&2
      exit 1
    fi
    sleep 0.1
  done
fi
$SUDO ./build/cli/svctl node info
echo

# A demo image made from this machine's busybox-static (no registry needed), and a first task.
demo=$(mktemp -d)
./packaging/make-demo-image.sh "$demo/layout" >/dev/null
chmod -R a+rX "$demo"
$SUDO ./build/cli/svctl image import "$demo/layout"
rm -rf "$demo"
echo
echo "$ svctl run --rm demo/busybox -- sh -c 'echo hello from a sandbox; id; hostname'"
$SUDO ./build/cli/svctl run --rm demo/busybox -- sh -c 'echo hello from a sandbox; id; hostname'
echo
echo "svcd is running. Try:"
echo "  sudo ./build/cli/svctl run -d --name web demo/busybox -- httpd -f -p 8080"
echo "  sudo ./build/cli/svctl ps; sudo ./build/cli/svctl logs web; sudo ./build/cli/svctl rm -f web"
echo "  sudo curl --unix-socket /run/svcd/svcd.sock http://svcd/v1/tasks?all=true"
