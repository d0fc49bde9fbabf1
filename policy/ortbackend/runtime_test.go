package ortbackend

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// LoadRuntime names the library's version as the library reports it: the one scripts/fetch-ort.sh
// fetches is 1.24.x (C API 24, what onnxruntime_go v1.27.0 needs). A path that is no library is
// refused as New refuses it.
func TestLoadRuntimeNamesTheLibrarysVersion(t *testing.T) {
	version, err := LoadRuntime(ortLibraryForTest(t))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^ONNX Runtime 1\.(2[4-9]|[3-9][0-9])\.[0-9]+$`), version)
	_, err = LoadRuntime("")
	require.ErrorContains(t, err, "no ONNX Runtime library")
}
