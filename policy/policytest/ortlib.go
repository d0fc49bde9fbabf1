package policytest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"dysl_vla/policy"
)

// ORTLibrary returns the ONNX Runtime library for tests that run graphs on it: DYSL_ORT_LIB when set
// (`make test` always sets it, and fails if it cannot fetch the library), else the copy
// scripts/fetch-ort.sh installs under the repository's .cache; without either the test is skipped with
// the command that provides one.
func ORTLibrary(tb testing.TB) string {
	tb.Helper()
	if lib := os.Getenv(policy.LibraryEnvVar); lib != "" {
		return lib
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
		candidate := filepath.Join(root, ".cache/ort/1.24.1/linux-"+arch+"/libonnxruntime.so.1")
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
	}
	tb.Skipf("ONNX Runtime library not found: run `make test`, or export %s=$(scripts/fetch-ort.sh)", policy.LibraryEnvVar)
	return ""
}
