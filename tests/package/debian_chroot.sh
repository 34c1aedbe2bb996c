#!/bin/sh
# Makes a fresh Debian 12 root filesystem for the package test: debootstrap once, cached as a
# tarball under /var/cache/svc-pkgtest, then unpacked anew for every run (a few seconds).
#   debian_chroot.sh DIR        -> DIR holds a Debian 12 (minbase + systemd + man-db) root
# The mirror is the one this machine's apt uses for bookworm (or $SVC_DEBIAN_MIRROR).
# Exit 77 (skip) when debootstrap is missing or the mirror cannot be reached.
set -eu
dir=${1:?usage: debian_chroot.sh DIR}
cache=${SVC_PKGTEST_CACHE:-/var/cache/svc-pkgtest}
arch=$(dpkg --print-architecture)
# systemd: systemd-sysusers, systemd-tmpfiles, deb-systemd-helper and systemd-analyze, as on a
# real server (but not running: a chroot has no init). man-db: systemd-analyze verify checks the
# unit's man: links.
include=systemd,man-db
tarball="$cache/bookworm-minbase-$(echo "$include" | tr , -)-$arch.tar.gz"

mirror() {
  if [ -n "${SVC_DEBIAN_MIRROR:-}" ]; then echo "$SVC_DEBIAN_MIRROR"; return; fi
  # deb822 sources first (Debian 12's default), then the one-line format.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {if (u) {print u; exit}}' "$f"
  done | head -n 1 | grep . && return
  awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null | grep .
}

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "debian_chroot: debootstrap is not installed (packaging/install-deps.sh)"; exit 77; }
  url=$(mirror) || { echo "debian_chroot: no bookworm mirror in /etc/apt (set SVC_DEBIAN_MIRROR)"; exit 77; }
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf --one-file-system "$work"' EXIT
  echo "debian_chroot: debootstrap bookworm from $url (once; cached as $tarball)"
  if ! debootstrap --variant=minbase --include="$include" bookworm "$work/root" "$url" \
      > "$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log"
    if grep -q -i -E "couldn't download|failed getting release|unable to|resolve" "$work/debootstrap.log"; then
      echo "debian_chroot: the mirror $url cannot be reached: skipping"
      exit 77
    fi
    exit 1
  fi
  # Package lists, so that apt in the chroot can install svc's dependencies.
  chroot "$work/root" apt-get update -q > "$work/update.log" 2>&1 || { cat "$work/update.log"; exit 1; }
  chroot "$work/root" apt-get clean
  tar --numeric-owner --xattrs -C "$work/root" -czf "$work/root.tar.gz" .
  mv "$work/root.tar.gz" "$tarball"
fi
mkdir -p "$dir"
tar --numeric-owner --xattrs -C "$dir" -xzf "$tarball"
