package modelbuildtest

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// Cache builds each bundle a test binary asks for once and gives every test its own copy. Build is
// deterministic, and tests that each build the same bundle spend seconds apiece on it (tens of
// seconds with context adapters, several times that under -race). The zero Cache is ready to use;
// a TestMain calls Remove once the tests are done.
type Cache struct {
	mu    sync.Mutex
	root  string
	built map[cacheKey]cachedBuild
}

// cacheKey is what of modelbuild.Options shapes the bundle: not where it goes, its logs or its clock.
type cacheKey struct {
	preset, weightsFile string
	seed                int64
	staticRatio         float64
	calibrationFrames   int
	tasks               scene.Tabletop
	adapterRank         int
	adapterContext      bool
}

type cachedBuild struct {
	dir    string
	result *modelbuild.Result
}

// Copy copies the bundle opts describe into dir, a directory that must not exist yet or be empty
// (opts.OutDir is not read), building it on the first call for these options. The Result is the
// build's, shared by every caller that asks for the same options: read it, do not change it.
func (c *Cache) Copy(tb testing.TB, opts modelbuild.Options, dir string) *modelbuild.Result {
	tb.Helper()
	b, err := c.build(opts)
	if err != nil {
		tb.Fatalf("building the %s bundle of seed %d for the tests: %v", opts.Preset, opts.Seed, err)
	}
	if err := os.CopyFS(dir, os.DirFS(b.dir)); err != nil {
		tb.Fatalf("copying the %s bundle of seed %d to %s: %v", opts.Preset, opts.Seed, dir, err)
	}
	return b.result
}

func (c *Cache) build(opts modelbuild.Options) (cachedBuild, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cacheKey{opts.Preset, opts.WeightsFile, opts.Seed, opts.StaticRatio, opts.CalibrationFrames, opts.Tasks,
		opts.AdapterRank, opts.AdapterContext}
	if b, ok := c.built[key]; ok {
		return b, nil
	}
	if c.root == "" {
		root, err := os.MkdirTemp("", "dysl-test-bundles-")
		if err != nil {
			return cachedBuild{}, err
		}
		c.root, c.built = root, map[cacheKey]cachedBuild{}
	}
	dir, err := os.MkdirTemp(c.root, "bundle-")
	if err != nil {
		return cachedBuild{}, err
	}
	opts.OutDir = dir
	res, err := modelbuild.Build(opts)
	if err != nil {
		return cachedBuild{}, fmt.Errorf("modelbuild: %w", err)
	}
	b := cachedBuild{dir: dir, result: res}
	c.built[key] = b
	return b, nil
}

// Remove deletes the builds.
func (c *Cache) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root != "" {
		os.RemoveAll(c.root)
		c.root, c.built = "", nil
	}
}
