#!/bin/sh
# Installs every Debian 12 package svc needs to build, test and benchmark. Idempotent: run it
# as often as you like. Needs root (or sudo).
set -eu

PACKAGES="
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-system-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libnghttp2-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev
  libseccomp-dev libcap-dev libcgroup-dev libsystemd-dev libnftables-dev
  libcurl4-openssl-dev libarchive-dev zlib1g-dev libzstd-dev libssl-dev libisal-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libexpected-dev catch2
  libhowardhinnant-date-dev tzdata
  clang-14 libclang-rt-14-dev
  python3 curl jq procps psmisc util-linux iproute2 iptables nftables kmod
  docker-registry skopeo umoci busybox-static podman conmon openssl tar
  containerd golang-go golang-github-getkin-kin-openapi-dev
  crun runc hyperfine nginx wrk
  debootstrap lintian man-db zsh dpkg-dev fakeroot file systemd util-linux
  prometheus
  ccache
"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
else
  echo "install-deps: every package is already installed"
fi
