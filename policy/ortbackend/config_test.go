package ortbackend

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// ortLibraryForTest returns the library named by DYSL_ORT_LIB, or skips: `make test` sets it from
// scripts/fetch-ort.sh.
func ortLibraryForTest(t testing.TB) string {
	t.Helper()
	lib := os.Getenv(LibraryEnvVar)
	if lib == "" {
		t.Skipf("%s is not set; run `make test` or export %s=$(scripts/fetch-ort.sh)", LibraryEnvVar, LibraryEnvVar)
	}
	return lib
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; empty means valid
	}{
		{name: "zero value", cfg: Config{}},
		{name: "tensorrt with options", cfg: Config{Provider: ProviderTensorRT, DeviceID: 1,
			TensorRT: TensorRTConfig{FP16: true, BuilderOptimizationLevel: 5}}},
		{name: "unknown provider", cfg: Config{Provider: "rocm"},
			wantErr: []string{`Provider must be "cpu", "cuda" or "tensorrt", got "rocm"`}},
		{name: "every violation listed", cfg: Config{IntraOpThreads: -1, DeviceID: -2,
			TensorRT: TensorRTConfig{BuilderOptimizationLevel: 6}},
			wantErr: []string{"IntraOpThreads (-1) must be in 0..64", "DeviceID (-2) must be >= 0",
				"TensorRT.BuilderOptimizationLevel (6) must be in 0..5"}},
		{name: "as many threads as a session may start", cfg: Config{IntraOpThreads: MaxIntraOpThreads}},
		{name: "more threads than that", cfg: Config{IntraOpThreads: 100000},
			wantErr: []string{"IntraOpThreads (100000) must be in 0..64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if len(c.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range c.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		t.Setenv(LibraryEnvVar, "/opt/ort/libonnxruntime.so")
		got := Config{}.withDefaults("/bundles/tiny")
		require.Equal(t, Config{
			LibraryPath:    "/opt/ort/libonnxruntime.so",
			Provider:       ProviderCPU,
			IntraOpThreads: 1,
			WarmUpRuns:     1,
			TensorRT:       TensorRTConfig{TimingCacheDir: "/bundles/tiny/.trt/timing"},
			bundleDir:      "/bundles/tiny",
		}, got)
	})
	t.Run("set fields win over defaults and environment", func(t *testing.T) {
		t.Setenv(LibraryEnvVar, "/from/env.so")
		set := Config{LibraryPath: "/from/config.so", Provider: ProviderCUDA, IntraOpThreads: 4,
			WarmUpRuns: -1, TensorRT: TensorRTConfig{EngineCacheDir: "/e", TimingCacheDir: "/t"}}
		got := set.withDefaults("/bundles/tiny")
		require.Equal(t, "/bundles/tiny", got.bundleDir)
		got.bundleDir = ""
		require.Equal(t, set, got)
		dir, err := set.engineCacheDir()
		require.NoError(t, err)
		require.Equal(t, "/e", dir)
	})
}

// The engine cache is named by the bundle's digest: ONNX Runtime names a cached engine by the graph's
// file and tensor names, not its weights, so a bundle rebuilt in place (another seed, a calibration,
// a distillation) must not find the engines of the one before.
func TestEngineCacheFollowsTheBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "models", "reference", "tiny"))))
	cfg := Config{Provider: ProviderTensorRT}.withDefaults(dir)
	before, err := cfg.engineCacheDir()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, ".trt", "engines"), filepath.Dir(before))
	require.Len(t, filepath.Base(before), 16)

	m, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	layer := filepath.Join(dir, m.Files.Layers[3])
	graph, err := os.ReadFile(layer)
	require.NoError(t, err)
	graph[len(graph)-1] ^= 1 // other weights, the same names
	require.NoError(t, os.WriteFile(layer, graph, 0o644))
	after, err := cfg.engineCacheDir()
	require.NoError(t, err)
	require.NotEqual(t, before, after)

	require.NoError(t, os.Remove(layer))
	_, err = cfg.engineCacheDir()
	require.ErrorContains(t, err, "TensorRT engine cache: bundle: digest of")
}

func TestTensorRTOptions(t *testing.T) {
	cfg := Config{Provider: ProviderTensorRT, DeviceID: 1,
		TensorRT: TensorRTConfig{FP16: true, EngineCacheDir: "/c/e", TimingCacheDir: "/c/t", BuilderOptimizationLevel: 2}}
	require.Equal(t, map[string]string{
		"device_id":                      "1",
		"trt_fp16_enable":                "1",
		"trt_engine_cache_enable":        "1",
		"trt_engine_cache_path":          "/c/e",
		"trt_timing_cache_enable":        "1",
		"trt_timing_cache_path":          "/c/t",
		"trt_builder_optimization_level": "2",
	}, tensorRTOptions(cfg))

	cfg.TensorRT.FP16, cfg.TensorRT.BuilderOptimizationLevel = false, 0
	opts := tensorRTOptions(cfg)
	require.Equal(t, "0", opts["trt_fp16_enable"])
	require.NotContains(t, opts, "trt_builder_optimization_level", "level 0 must leave ORT's default")
}

// The library fetch-ort.sh installed is found from any folder of the repository, nearest first.
func TestFindFetchedLibrary(t *testing.T) {
	root := t.TempDir()
	install := func(dir string) string {
		lib := filepath.Join(dir, FetchedLibraryPath())
		require.NoError(t, os.MkdirAll(filepath.Dir(lib), 0o755))
		require.NoError(t, os.WriteFile(lib, []byte("stands in for the library"), 0o644))
		return lib
	}
	deep := filepath.Join(root, "repo", "nodes", "dysl")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	require.Empty(t, FindFetchedLibrary(deep), "no .cache anywhere above")

	outer := install(root)
	require.Equal(t, outer, FindFetchedLibrary(deep))
	inner := install(filepath.Join(root, "repo"))
	require.Equal(t, inner, FindFetchedLibrary(deep), "the nearest one wins")
	require.Equal(t, inner, FindFetchedLibrary(filepath.Join(root, "repo")))
	// fetch-ort.sh names its folders after npm's architectures (x64, arm64), not Go's.
	wantArch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	require.NotEmpty(t, wantArch, "fetch-ort.sh installs x64 and arm64 only")
	require.Equal(t, filepath.Join(".cache", "ort", "1.24.1", "linux-"+wantArch, "libonnxruntime.so.1"), FetchedLibraryPath())

	// A folder of the library's name is not the library: the search goes on past it.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "repo", "nodes", FetchedLibraryPath()), 0o755))
	require.Equal(t, inner, FindFetchedLibrary(deep))
}

// A program finds ONNX Runtime the same way, dysl and the node alike: DYSL_ORT_LIB first, else the
// library make ort put in the checkout it runs from, so that the quick start's ros2 launch from the
// checkout needs no export.
func TestDefaultLibrary(t *testing.T) {
	t.Setenv(LibraryEnvVar, "/opt/ort/libonnxruntime.so")
	require.Equal(t, "/opt/ort/libonnxruntime.so", DefaultLibrary())

	t.Setenv(LibraryEnvVar, "")
	fetched, err := filepath.Abs(filepath.Join("..", "..", FetchedLibraryPath()))
	require.NoError(t, err)
	if _, err := os.Stat(fetched); err != nil {
		t.Skipf("no library fetched into this checkout (%v): make ort", err)
	}
	require.Equal(t, fetched, DefaultLibrary(), "from the working directory, a package inside the checkout")
}

func TestLibraryPathErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		wantErr []string
	}{
		{name: "unset", path: "", wantErr: []string{"no ONNX Runtime library", LibraryEnvVar, "scripts/fetch-ort.sh", ".cache/ort/1.24.1/linux-"}},
		{name: "missing file", path: filepath.Join(dir, "nope.so"), wantErr: []string{filepath.Join(dir, "nope.so"), "no such file", "make ort"}},
		{name: "directory", path: dir, wantErr: []string{dir, "is a directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := initORTEnvironment(c.path)
			require.Error(t, err)
			for _, want := range c.wantErr {
				require.ErrorContains(t, err, want)
			}
			require.NotContains(t, err.Error(), "from $"+LibraryEnvVar, "a path the caller gave is not the environment's")
		})
	}
}

// A missing library that came from $DYSL_ORT_LIB says so: the path is one the user never typed.
func TestLibraryFromTheEnvironmentIsNamedAsSuch(t *testing.T) {
	stale := filepath.Join(t.TempDir(), "old", "libonnxruntime.so.1")
	t.Setenv(LibraryEnvVar, stale)
	err := initORTEnvironment(Config{}.withDefaults(t.TempDir()).LibraryPath)
	require.ErrorContains(t, err, "ONNX Runtime library "+stale+" (from $"+LibraryEnvVar+"): ")
}

// A GPU provider missing from the library points at the cpu provider by its value, which the node's
// execution_provider and the CLI's --provider both take, not at a Go field.
func TestProviderErrorNamesTheCPUProviderByItsValue(t *testing.T) {
	err := providerError(ProviderCUDA, Config{LibraryPath: "/x/libonnxruntime.so.1"}, errors.New("Failed to load library libonnxruntime_providers_cuda.so"))
	require.ErrorContains(t, err, "provider cuda is not available in ONNX Runtime library /x/libonnxruntime.so.1")
	require.ErrorContains(t, err, "or the cpu provider: Failed to load")
	require.NotContains(t, err.Error(), "Provider")
}

// TestLibraryNotLoadable runs in a child process, because a process whose environment is already
// initialized never tries to load a second library.
func TestLibraryNotLoadable(t *testing.T) {
	const childEnv = "DYSL_TEST_NOT_A_LIBRARY"
	if path := os.Getenv(childEnv); path != "" {
		err := initORTEnvironment(path)
		require.Error(t, err)
		require.ErrorContains(t, err, "loading ONNX Runtime library "+path)
		return
	}
	notALibrary := filepath.Join(t.TempDir(), "libonnxruntime.so")
	require.NoError(t, os.WriteFile(notALibrary, []byte("not an ELF file"), 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^TestLibraryNotLoadable$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+notALibrary)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child process failed:\n%s", out)
}

func TestLibrarySwitchRefused(t *testing.T) {
	lib := ortLibraryForTest(t)
	require.NoError(t, initORTEnvironment(lib))
	require.NoError(t, initORTEnvironment(lib), "the same library again reuses the environment")

	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	require.NoError(t, os.WriteFile(other, []byte("another library"), 0o644))
	err := initORTEnvironment(other)
	require.ErrorContains(t, err, "already loaded")
	require.ErrorContains(t, err, other)
}

// TestGPUProviderOnCPULibrary checks what a robot operator sees when the config asks for a GPU provider
// but the library is the CPU-only build: an error naming the provider, before any graph is opened, and
// nothing written into the bundle (TensorRT's cache directories are not made), even where the bundle
// cannot be written.
func TestGPUProviderOnCPULibrary(t *testing.T) {
	lib := ortLibraryForTest(t)
	m := &bundle.Manifest{
		Dims:  bundle.Dims{Layers: 1, Hidden: 4, Tokens: 2, InstructionTokens: 2, Chunk: 1, ActionDim: 1},
		Image: bundle.ImageSpec{Width: 2, Height: 2},
		Files: bundle.Files{Prefix: "prefix.onnx", Layers: []string{"layer_00.onnx"}, Head: "head.onnx"},
	}
	for _, provider := range []string{ProviderCUDA, ProviderTensorRT} {
		t.Run(provider, func(t *testing.T) {
			dir := t.TempDir()
			_, err := New(dir, m, Config{LibraryPath: lib, Provider: provider})
			require.Error(t, err)
			require.ErrorContains(t, err, "provider "+provider+" is not available")
			require.ErrorContains(t, err, lib)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "the bundle directory is left as it was")
		})
	}
}

func TestManifestChecks(t *testing.T) {
	m := &bundle.Manifest{
		Dims:  bundle.Dims{Layers: 2, Hidden: 4, Tokens: 0, InstructionTokens: 2, Chunk: 1, ActionDim: 1},
		Image: bundle.ImageSpec{Width: 2, Height: 2},
		Files: bundle.Files{Prefix: "prefix.onnx", Layers: []string{"layer_00.onnx"},
			Controllers: map[int]string{2: "controller_02.onnx"}},
	}
	_, err := New(t.TempDir(), m, Config{LibraryPath: "/unused"})
	require.Error(t, err)
	for _, want := range []string{
		"dims.tokens (0) must be > 0",
		"files.layers has 1 entries, expected dims.layers (2)",
		"files.head is empty",
		"files.controllers has layer 2, expected 0..1",
	} {
		require.ErrorContains(t, err, want)
	}
}
