// Package orttest gives tests that run graphs on ONNX Runtime the library to load.
package orttest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"dysl_vla/policy/ortbackend"
)

// Library returns the ONNX Runtime library for tests that run graphs on it: DYSL_ORT_LIB when set
// (`make test` always sets it, and fails if it cannot fetch the library), else the copy
// scripts/fetch-ort.sh installs under the repository's .cache; without either the test is skipped with
// the command that provides one.
func Library(tb testing.TB) string {
	tb.Helper()
	if lib := os.Getenv(ortbackend.LibraryEnvVar); lib != "" {
		return lib
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if lib := ortbackend.FindFetchedLibrary(filepath.Dir(file)); lib != "" {
			return lib
		}
	}
	tb.Skipf("ONNX Runtime library not found: run `make test`, or export %s=$(scripts/fetch-ort.sh)", ortbackend.LibraryEnvVar)
	return ""
}
