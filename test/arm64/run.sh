#!/usr/bin/env bash
# The closest this project gets to the Jetson without one: cross-compiles package policy/ortbackend's
# tests for linux/arm64 and runs them under qemu-user with the arm64 ORT library (the same 1.24.1 CPU
# build), so the tiny bundle is built and run through the ONNX Runtime backend on arm64 code.
# Only the CPU provider can be checked this way; CUDA/TensorRT need the robot.
# Usage: test/arm64/run.sh   (ARM64_TESTS overrides the -test.run pattern)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
scripts/install-arm64-tools.sh
lib=$(scripts/fetch-ort.sh arm64)
mkdir -p bin/linux-arm64
# CGO_ENABLED=1 must be explicit: cross builds default to cgo off, which drops onnxruntime_go.
CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC="${ARM64_CC:-aarch64-linux-gnu-gcc}" \
  go test -c -o bin/linux-arm64/ortbackend.test ./policy/ortbackend
# A test binary runs in its package directory, as `go test` would run it. qemu needs the arm64 loader
# and libc from the cross libc package (QEMU_LD_PREFIX). ORT prints a harmless "Unknown CPU vendor"
# warning under qemu.
cd policy/ortbackend
DYSL_ORT_LIB="$lib" QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
  qemu-aarch64 ../../bin/linux-arm64/ortbackend.test -test.count=1 -test.v -test.run "${ARM64_TESTS:-^TestORTBackend$}"
