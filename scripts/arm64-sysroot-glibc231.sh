#!/usr/bin/env bash
# Prepares a cross sysroot holding Debian bullseye's arm64 glibc 2.31 and prints the path of a C
# compiler wrapper that links against it. Binaries built with CC=<that wrapper> need only GLIBC_2.17,
# so they start on JetPack 5 (Ubuntu 20.04, glibc 2.31); bookworm's own cross libc yields binaries that
# need GLIBC_2.34 (docs/notes/arm64.md, where this recipe was verified under qemu).
# Nothing is installed system-wide: apt reads bullseye's lists into a private directory.
# Idempotent: does nothing when the sysroot is already in .cache/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/arm64-sysroot-glibc2.31"
cc="$dest/aarch64-glibc2.31-gcc"
if [ ! -x "$cc" ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null || { echo "arm64-sysroot: run scripts/install-arm64-tools.sh first" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
  echo "deb http://deb.debian.org/debian bullseye main" >"$tmp/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -q >/dev/null
  # Versions as verified; bullseye may move to archive.debian.org one day.
  (cd "$tmp/debs" && apt-get "${apt_opts[@]}" download -q \
    libc6-dev-arm64-cross=2.31-9cross4 libc6-arm64-cross=2.31-9cross4 linux-libc-dev-arm64-cross=5.10.13-1cross4 >/dev/null)
  mkdir -p "$dest/sysroot"
  for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$dest/sysroot"; done
  # --sysroot alone is not enough: Debian's cross gcc finds its libc through gcc-relative paths, so
  # -B, -L and -isystem must point at the 2.31 files too.
  s="$dest/sysroot/usr/aarch64-linux-gnu"
  cat >"$cc" <<WRAPPER
#!/bin/sh
exec aarch64-linux-gnu-gcc --sysroot="$dest/sysroot" -B"$s/lib" -L"$s/lib" -isystem "$s/include" "\$@"
WRAPPER
  chmod +x "$cc"
fi
echo "$cc"
