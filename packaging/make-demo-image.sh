#!/bin/sh
# Builds the demo images as one OCI image layout (no registry, no network), for
# `svctl image import`:
#
#   ./packaging/make-demo-image.sh DIR [SVC_HELLO]
#
#   demo/busybox:latest  Debian's busybox-static: sh, echo, sleep, httpd, ... (for tasks)
#   demo/hello:latest    svc-hello, the project's own static HTTP server (packaging/demo/hello.cpp),
#                        alone in its image: the quickstart's service. Made when the binary is
#                        found: SVC_HELLO (argument or environment), else build/packaging/svc-hello
#                        of this checkout (cmake --build build --target svc-hello).
set -eu
out=${1:?usage: make-demo-image.sh OUTPUT_DIR [SVC_HELLO]}
hello=${2:-${SVC_HELLO:-$(dirname "$0")/../build/packaging/svc-hello}}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-demo-image: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if [ -n "${2:-}${SVC_HELLO:-}" ] && [ ! -x "$hello" ]; then
  echo "make-demo-image: $hello is not an executable (build it: cmake --build build --target svc-hello)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arch=$(dpkg --print-architecture)
mkdir -p "$out/blobs/sha256"
manifests=""

# blob FILE: moves FILE into the layout under its digest; prints "DIGEST SIZE".
blob() {
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$out/blobs/sha256/$digest"
  echo "$digest $size"
}

# image REF ROOTFS CONFIG: one image of one layer (ROOTFS as a reproducible tar.gz); CONFIG is the
# image config's "config" object.
image() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$2" -cf "$work/layer.tar" .
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -n -c "$work/layer.tar" > "$work/layer.tar.gz"
  rm -f "$work/layer.tar"
  set -- "$1" "$2" "$3" $(blob "$work/layer.tar.gz")
  layer=$4 layer_size=$5
  printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$arch" "$3" "$diff_id" > "$work/config.json"
  set -- "$1" "$2" "$3" $(blob "$work/config.json")
  config=$4 config_size=$5
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
  set -- "$1" "$2" "$3" $(blob "$work/manifest.json")
  [ -z "$manifests" ] || manifests="$manifests,"
  manifests="$manifests{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$4\",\"size\":$5,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$1\"}}"
  echo "$out: $1 (sha256:$4)"
}

root="$work/busybox"
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
image demo/busybox:latest "$root" '{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"}'

if [ -x "$hello" ]; then
  # The binary alone, run as nobody: a service needs no shell and no root.
  root="$work/hello"
  mkdir -p "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp "$hello" "$root/svc-hello"
  printf 'nobody:x:65534:65534:nobody:/:/svc-hello\n' > "$root/etc/passwd"
  printf 'nogroup:x:65534:\n' > "$root/etc/group"
  chmod 1777 "$root/tmp"
  image demo/hello:latest "$root" \
    '{"User":"65534:65534","Env":["PORT=8080"],"Entrypoint":["/svc-hello"],"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/"}'
else
  echo "make-demo-image: no svc-hello at $hello: demo/hello not made (cmake --build build --target svc-hello)" >&2
fi

printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
printf '{"schemaVersion":2,"manifests":[%s]}' "$manifests" > "$out/index.json"
