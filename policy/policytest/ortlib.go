package policytest

import (
	"os"
	"testing"

	"dysl_vla/policy"
)

// ORTLibrary returns the ONNX Runtime library named by DYSL_ORT_LIB, or skips the test with the command
// that provides one. `make test` always sets it (and fails if it cannot fetch the library), so these tests
// never skip silently in CI.
func ORTLibrary(tb testing.TB) string {
	tb.Helper()
	lib := os.Getenv(policy.LibraryEnvVar)
	if lib == "" {
		tb.Skipf("%s is not set; run `make test` or export %s=$(scripts/fetch-ort.sh)", policy.LibraryEnvVar, policy.LibraryEnvVar)
	}
	return lib
}
