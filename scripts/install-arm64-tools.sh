#!/usr/bin/env bash
# Installs Debian's arm64 cross compiler and qemu-user (for `make arm64` and `make test-arm64`), only
# what is missing. Needs root or sudo. See docs/notes/arm64.md: about 10 s and 270 MB on bookworm.
# binfmt_misc is not needed: binaries run through `qemu-aarch64 -L /usr/aarch64-linux-gnu` explicitly.
set -euo pipefail
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "install-arm64-tools: apt-get not found; install ${need[*]} by hand" >&2; exit 1; }
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-arm64-tools: installing ${need[*]}" >&2
"${sudo[@]}" apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
