package training

import (
	"os"
	"sync"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"

	"github.com/stretchr/testify/require"
)

// builtTinyBundle builds the tiny bundle of seed 5 in a temporary directory and opens its backbone.
func builtTinyBundle(t *testing.T) (string, *modelbuild.Result, *bundle.Manifest, modelbuild.Arch, *modelbuild.Weights) {
	t.Helper()
	return builtTinyBundleWith(t, modelbuild.Options{})
}

// builtTinyBundleWith gives each test its own copy of the tiny bundle of seed 5 built with the adapter
// options of opts, and opens the copy's backbone. modelbuild.Build is deterministic, so each set of
// options is built once per test binary and copied: a build calibrates on up to 256 frames (about
// 4 s plain, 27 s with context adapters on 2 cores), and a dozen tests build the same bundle. The
// Result is shared between the tests that ask for the same options: read it, do not change it.
func builtTinyBundleWith(t *testing.T, opts modelbuild.Options) (string, *modelbuild.Result, *bundle.Manifest, modelbuild.Arch, *modelbuild.Weights) {
	t.Helper()
	key := tinyBundleKey{opts.AdapterRank, opts.AdapterContext, opts.CalibrationFrames}
	built, err := tinyBundles.get(key)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(built.dir)))
	manifest, a, w, err := OpenBundleBackbone(dir, "")
	require.NoError(t, err)
	return dir, built.result, manifest, a, w
}

// contextAdapters are the options of the tiny bundle with context adapters that the tests share: rank 8
// and 64 calibration frames keep its build short.
var contextAdapters = modelbuild.Options{AdapterContext: true, AdapterRank: 8, CalibrationFrames: 64}

type tinyBundleKey struct {
	adapterRank       int
	adapterContext    bool
	calibrationFrames int
}

type builtBundle struct {
	dir    string
	result *modelbuild.Result
}

// tinyBundleCache holds the bundles built so far, in directories removed when the test binary ends.
type tinyBundleCache struct {
	mu    sync.Mutex
	root  string
	built map[tinyBundleKey]builtBundle
}

var tinyBundles tinyBundleCache

func (c *tinyBundleCache) get(key tinyBundleKey) (builtBundle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.built[key]; ok {
		return b, nil
	}
	if c.root == "" {
		root, err := os.MkdirTemp("", "dysl-training-tiny-")
		if err != nil {
			return builtBundle{}, err
		}
		c.root, c.built = root, map[tinyBundleKey]builtBundle{}
	}
	dir, err := os.MkdirTemp(c.root, "bundle-")
	if err != nil {
		return builtBundle{}, err
	}
	res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: dir, Seed: 5,
		AdapterRank: key.adapterRank, AdapterContext: key.adapterContext, CalibrationFrames: key.calibrationFrames})
	if err != nil {
		return builtBundle{}, err
	}
	b := builtBundle{dir: dir, result: res}
	c.built[key] = b
	return b, nil
}

// remove deletes the built bundles; TestMain calls it once the tests are done.
func (c *tinyBundleCache) remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root != "" {
		os.RemoveAll(c.root)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	tinyBundles.remove()
	os.Exit(code)
}
