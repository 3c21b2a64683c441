#!/usr/bin/env bash
# Builds the base image of Lockstep's worker and CLI images from Debian packages, without a
# Docker daemon or a registry: debootstrap (minbase) + openjdk-17-jre-headless, a non-root user
# `lockstep` (uid/gid 10001), as a one-layer image in the `docker save` tarball format, the local
# base image format Jib reads (`tar://...`).
#
#   images/base/build-base.sh            # builds it once into ~/.cache/lockstep/images (or
#                                        # $LOCKSTEP_IMAGE_CACHE); prints its path
#   images/base/build-base.sh --force    # rebuilds it
#
# Needs root (debootstrap) and the `debootstrap` package. The .deb files are kept in the cache, so
# a rebuild does not download them again; the mirror is $LOCKSTEP_DEBIAN_MIRROR (deb.debian.org).
# The image is rebuilt when this script's commands change (their hash is the cache key, comments
# left out).
set -euo pipefail

force=false
[[ "${1:-}" == "--force" ]] && force=true

cache="${LOCKSTEP_IMAGE_CACHE:-$HOME/.cache/lockstep/images}"
suite="${LOCKSTEP_DEBIAN_SUITE:-bookworm}"
mirror="${LOCKSTEP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
out="$cache/lockstep-base-jre17.tar"
stamp="$cache/lockstep-base-jre17.stamp"
key="$(grep -v '^[[:space:]]*#' "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1) $suite"

if ! $force && [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  echo "$out"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "build-base: debootstrap needs root (run with sudo, or in CI as root)" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null; then
  echo "build-base: needs debootstrap (apt-get install debootstrap)" >&2
  exit 2
fi

mkdir -p "$cache/debs"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "build-base: debootstrap $suite (minbase + openjdk-17-jre-headless) into $rootfs" >&2
debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates \
  --cache-dir="$cache/debs" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  echo "build-base: debootstrap failed (log above)" >&2
  exit 1
}

# The non-root user the images run as; its home is the working directory.
echo 'lockstep:x:10001:10001:Lockstep:/home/lockstep:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
echo 'lockstep:x:10001:' >>"$rootfs/etc/group"
echo 'lockstep:!:19000::::::' >>"$rootfs/etc/shadow"
install -d -o 10001 -g 10001 -m 0755 "$rootfs/home/lockstep"

# What a container does not need: package caches and lists, docs, man pages, the device nodes
# (a runtime supplies /dev) and what debootstrap leaves for itself.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/* \
  "$rootfs"/debootstrap "$rootfs"/dev/* "$rootfs"/run/* "$rootfs"/tmp/*
chmod 1777 "$rootfs/tmp"
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"

# One reproducible layer: sorted, numeric owners, fixed times.
image="$work/image"
mkdir -p "$image"
tar --sort=name --numeric-owner --mtime='2026-01-01 00:00:00Z' --xattrs-exclude='*' \
  -C "$rootfs" -cf "$image/layer.tar" .
diff_id="sha256:$(sha256sum "$image/layer.tar" | cut -d' ' -f1)"
# Compressed here once, so that Jib uses the layer as it is instead of compressing it every build.
gzip -n -6 "$image/layer.tar"
java_home="/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)"
arch="$(dpkg --print-architecture)"
cat >"$image/config.json" <<EOF
{"architecture":"$arch","os":"linux",
 "created":"2026-01-01T00:00:00Z",
 "config":{"User":"10001:10001","WorkingDir":"/home/lockstep",
  "Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","JAVA_HOME=$java_home","LANG=C.UTF-8"]},
 "rootfs":{"type":"layers","diff_ids":["$diff_id"]},
 "history":[{"created":"2026-01-01T00:00:00Z","created_by":"images/base/build-base.sh: debootstrap $suite minbase + openjdk-17-jre-headless"}]}
EOF
config_id="$(sha256sum "$image/config.json" | cut -d' ' -f1)"
mv "$image/config.json" "$image/$config_id.json"
cat >"$image/manifest.json" <<EOF
[{"Config":"$config_id.json","RepoTags":["lockstep/base-jre17:latest"],"Layers":["layer.tar.gz"]}]
EOF
tar --sort=name --numeric-owner --mtime='2026-01-01 00:00:00Z' -C "$image" -cf "$work/base.tar" \
  manifest.json "$config_id.json" layer.tar.gz
mv "$work/base.tar" "$out"
echo "$key" >"$stamp"
echo "build-base: $(du -h "$out" | cut -f1) at $out" >&2
echo "$out"
