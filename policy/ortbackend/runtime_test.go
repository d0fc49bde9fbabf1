package ortbackend

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Once a library is loaded, LoadedRuntime names its version as the library reports it: the one
// scripts/fetch-ort.sh fetches is 1.24.x (C API 24, what onnxruntime_go v1.27.0 needs).
func TestLoadedRuntimeNamesTheLibrarysVersion(t *testing.T) {
	require.NoError(t, initORTEnvironment(ortLibraryForTest(t)))
	require.Regexp(t, regexp.MustCompile(`^ONNX Runtime 1\.(2[4-9]|[3-9][0-9])\.[0-9]+$`), LoadedRuntime())
}
