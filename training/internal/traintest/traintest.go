// Package traintest holds what the tests of training and its subpackages share.
package traintest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"dysl_vla/policy"
)

// ORTLibrary returns the ONNX Runtime library for tests that run graphs on it: DYSL_ORT_LIB when set,
// else the copy scripts/fetch-ort.sh installs under the repository's .cache; without either the test
// is skipped.
func ORTLibrary(tb testing.TB) string {
	tb.Helper()
	if lib := os.Getenv(policy.LibraryEnvVar); lib != "" {
		return lib
	}
	_, file, _, ok := runtime.Caller(0)
	if ok {
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		candidate := filepath.Join(root, ".cache/ort/1.24.1/linux-x64/libonnxruntime.so.1")
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
	}
	tb.Skipf("ONNX Runtime library not found: set %s or run scripts/fetch-ort.sh", policy.LibraryEnvVar)
	return ""
}
