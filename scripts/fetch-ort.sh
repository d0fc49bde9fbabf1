#!/usr/bin/env bash
# Installs ONNX Runtime's CPU shared library (1.24.1, C API 24, what onnxruntime_go v1.27.0 needs)
# from the npm registry's onnxruntime-node package into an ignored cache folder.
# Usage: scripts/fetch-ort.sh [x64|arm64]   (default: x64)
# Prints the path of the library. Idempotent: does nothing when the library is already there.
set -euo pipefail
arch=${1:-x64}
case "$arch" in x64|arm64) ;; *) echo "fetch-ort: arch must be x64 or arm64, got $arch" >&2; exit 2;; esac
version=1.24.1
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/ort/$version/linux-$arch"
lib="$dest/libonnxruntime.so.1"
if [ ! -s "$lib" ]; then
  command -v npm >/dev/null || { echo "fetch-ort: npm is needed (apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
  tar -xzf "$tmp/onnxruntime-node-$version.tgz" -C "$tmp" "package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
  mkdir -p "$dest"
  mv "$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$lib"
  ln -sf libonnxruntime.so.1 "$dest/libonnxruntime.so"
fi
echo "$lib"
