package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend"
)

// The node finds ONNX Runtime as dysl does: DYSL_ORT_LIB first, else the library make ort put in the
// checkout it runs from, so that the quick start's ros2 launch from the checkout needs no export.
func TestNodeFindsTheLibraryMakeOrtFetched(t *testing.T) {
	t.Setenv(ortbackend.LibraryEnvVar, "/opt/ort/libonnxruntime.so")
	require.Equal(t, "/opt/ort/libonnxruntime.so", ortLibrary())

	t.Setenv(ortbackend.LibraryEnvVar, "")
	fetched, err := filepath.Abs(filepath.Join("..", "..", ortbackend.FetchedLibraryPath()))
	require.NoError(t, err)
	if _, err := os.Stat(fetched); err != nil {
		t.Skipf("no library fetched into this checkout (%v): make ort", err)
	}
	require.Equal(t, fetched, ortLibrary(), "from the working directory, the package inside the checkout")
}
