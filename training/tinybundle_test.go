package training

import (
	"os"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/policy/bundle"

	"github.com/stretchr/testify/require"
)

// builtTinyBundle builds the tiny bundle of seed 5 in a temporary directory and opens its backbone.
func builtTinyBundle(t *testing.T) (string, *modelbuild.Result, *bundle.Manifest, modelbuild.Arch, *modelbuild.Weights) {
	t.Helper()
	return builtTinyBundleWith(t, modelbuild.Options{})
}

// builtTinyBundleWith gives each test its own copy of the tiny bundle of seed 5 built with the adapter
// options of opts, and opens the copy's backbone. Each set of options is built once per test binary
// (tinyBundles): a dozen tests ask for the same bundle. The Result is shared between the tests that
// ask for the same options: read it, do not change it.
func builtTinyBundleWith(t *testing.T, opts modelbuild.Options) (string, *modelbuild.Result, *bundle.Manifest, modelbuild.Arch, *modelbuild.Weights) {
	t.Helper()
	dir := t.TempDir()
	built := tinyBundles.Copy(t, modelbuild.Options{Preset: "tiny", Seed: 5, AdapterRank: opts.AdapterRank,
		AdapterContext: opts.AdapterContext, CalibrationFrames: opts.CalibrationFrames}, dir)
	manifest, a, w, err := OpenBundleBackbone(dir, "")
	require.NoError(t, err)
	return dir, built, manifest, a, w
}

// contextAdapters are the options of the tiny bundle with context adapters that the tests share: rank 8
// and 64 calibration frames keep its build short.
var contextAdapters = modelbuild.Options{AdapterContext: true, AdapterRank: 8, CalibrationFrames: 64}

var tinyBundles modelbuildtest.Cache

func TestMain(m *testing.M) {
	code := m.Run()
	tinyBundles.Remove()
	os.Exit(code)
}
