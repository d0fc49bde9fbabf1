package ortbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"dysl_vla/policy/bundle"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnvVar names the environment variable that gives the ONNX Runtime shared library when
// Config.LibraryPath is empty.
const LibraryEnvVar = "DYSL_ORT_LIB"

// MaxIntraOpThreads bounds Config.IntraOpThreads: every session of a backend starts that many threads,
// and a backend holds one session per graph, so a typo must not start hundreds of thousands of them.
const MaxIntraOpThreads = 64

// Execution providers Config.Provider accepts.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// Config configures the ONNX Runtime backend. The zero value is usable: CPU, one intra-op thread,
// one warm-up run, library from DYSL_ORT_LIB.
type Config struct {
	// LibraryPath is libonnxruntime.so, ONNX Runtime 1.24 or newer (C API 24, what onnxruntime_go
	// v1.27.0 calls). Empty means the DYSL_ORT_LIB environment variable. scripts/fetch-ort.sh (make ort)
	// installs the CPU build into .cache/ort/1.24.1/linux-<x64|arm64>/ and prints its path.
	LibraryPath string
	// Provider is the execution provider: "cpu" (the default), "cuda" or "tensorrt". The GPU providers
	// need a GPU build of ONNX Runtime with its provider libraries next to libonnxruntime.so.
	Provider string
	// IntraOpThreads is each session's intra-op thread count. It defaults to 1: the backend holds one
	// session per layer, and every session owns its own thread pool (onnxruntime_go cannot reach ORT's
	// global pool), so many pools on few cores fight each other. Spinning is always off for the same reason.
	IntraOpThreads int
	// DeviceID is the CUDA device used by the "cuda" and "tensorrt" providers. It defaults to 0.
	DeviceID int
	// TensorRT holds the "tensorrt" provider's options; ignored by the other providers.
	TensorRT TensorRTConfig
	// WarmUpRuns is how many times New runs every graph before returning, so the first real
	// frame does not pay for lazy initialization (with TensorRT: engine builds that take minutes without
	// a cache). Warm-up also proves each graph's input and output names, and refuses a graph whose
	// output no frame could use: a hidden state or chunk holding NaN or Inf, a skip probability outside
	// [0, 1]. It defaults to 1; a negative value disables warm-up, and those checks with it. Warm-up
	// runs are not counted in RunCounts.
	WarmUpRuns int

	// bundleDir is the bundle the backend opens (withDefaults), whose digest names the engine cache.
	bundleDir string
}

// TensorRTConfig holds the TensorRT execution provider's options. Engines and the timing cache are always
// cached on disk: with one graph per layer there is one engine per graph, and building them all again
// at every start would take minutes on a Jetson.
type TensorRTConfig struct {
	// FP16 lets TensorRT choose half-precision kernels.
	FP16 bool
	// EngineCacheDir holds built engines. It defaults to <bundle dir>/.trt/engines/<digest>, the first
	// 16 hex digits of the bundle's digest (bundle.Digest), so the cache travels with the bundle it was
	// built from and a bundle rebuilt, calibrated or distilled in place never runs the engines of the
	// one before: ONNX Runtime names a cached engine by the graph's file name, its tensor names and the
	// library versions, not its weights, and a rebuilt layer_03.onnx keeps every one of those.
	// Engines are tied to the ORT and TensorRT versions and the GPU. The directories of earlier
	// digests are left where they are; removing them costs only a rebuild of their engines.
	EngineCacheDir string
	// TimingCacheDir holds the layer timing cache, shared by all graphs. It defaults to <bundle dir>/.trt/timing.
	TimingCacheDir string
	// BuilderOptimizationLevel is TensorRT's builder optimization level, 1 to 5 (lower builds faster,
	// higher may run faster). 0 keeps ONNX Runtime's default (3).
	BuilderOptimizationLevel int
}

// withDefaults returns a copy of c with empty fields set to their documented defaults. bundleDir
// anchors the TensorRT cache directories; the engine cache's is found when TensorRT is set up
// (engineCacheDir), since it reads the whole bundle.
func (c Config) withDefaults(bundleDir string) Config {
	if c.LibraryPath == "" {
		c.LibraryPath = os.Getenv(LibraryEnvVar)
	}
	if c.Provider == "" {
		c.Provider = ProviderCPU
	}
	if c.IntraOpThreads == 0 {
		c.IntraOpThreads = 1
	}
	if c.WarmUpRuns == 0 {
		c.WarmUpRuns = 1
	}
	c.bundleDir = bundleDir
	if c.TensorRT.TimingCacheDir == "" {
		c.TensorRT.TimingCacheDir = filepath.Join(bundleDir, ".trt", "timing")
	}
	return c
}

// engineCacheDir is TensorRT.EngineCacheDir, or its default under the bundle's digest.
func (c Config) engineCacheDir() (string, error) {
	if c.TensorRT.EngineCacheDir != "" {
		return c.TensorRT.EngineCacheDir, nil
	}
	digest, err := bundle.Digest(c.bundleDir)
	if err != nil {
		return "", fmt.Errorf("TensorRT engine cache: %w", err)
	}
	return filepath.Join(c.bundleDir, ".trt", "engines", digest[:16]), nil
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Provider {
	case "", ProviderCPU, ProviderCUDA, ProviderTensorRT:
	default:
		//lint:ignore ST1005 the message starts with the name of the field it rejects
		errs = append(errs, fmt.Errorf("Provider must be %q, %q or %q, got %q",
			ProviderCPU, ProviderCUDA, ProviderTensorRT, c.Provider))
	}
	if c.IntraOpThreads < 0 || c.IntraOpThreads > MaxIntraOpThreads {
		errs = append(errs, fmt.Errorf("IntraOpThreads (%d) must be in 0..%d (0 means 1)", c.IntraOpThreads, MaxIntraOpThreads))
	}
	if c.DeviceID < 0 {
		errs = append(errs, fmt.Errorf("DeviceID (%d) must be >= 0", c.DeviceID))
	}
	if l := c.TensorRT.BuilderOptimizationLevel; l < 0 || l > 5 {
		errs = append(errs, fmt.Errorf("TensorRT.BuilderOptimizationLevel (%d) must be in 0..5 (0 means ORT's default)", l))
	}
	return errors.Join(errs...)
}

// ortEnvironment is the one ONNX Runtime environment of this process. onnxruntime_go keeps a single
// global OrtEnv and loads a single library, so this state is process-wide by nature; every backend
// shares it, and it lives until the process exits (destroying it unloads the library under any
// session still open).
var ortEnvironment struct {
	sync.Mutex
	library string // resolved path of the loaded library; empty until loaded
}

// initORTEnvironment loads the library at path and creates the environment, or checks that the
// environment already running uses the same library. A failed attempt leaves nothing loaded, so a later
// call with a correct path can succeed.
func initORTEnvironment(path string) error {
	if path == "" {
		return fmt.Errorf("no ONNX Runtime library: set Config.LibraryPath or %s to libonnxruntime.so "+
			"(ONNX Runtime >= 1.24); %s", LibraryEnvVar, fetchHint())
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("ONNX Runtime library %s%s: %w; %s", path, libraryOrigin(path), err, fetchHint())
	}
	if info.IsDir() {
		return fmt.Errorf("ONNX Runtime library %s is a directory, expected the file libonnxruntime.so", path)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}

	ortEnvironment.Lock()
	defer ortEnvironment.Unlock()
	if ortEnvironment.library != "" {
		if ortEnvironment.library != resolved {
			return fmt.Errorf("ONNX Runtime library %s requested, but this process already loaded %s "+
				"(one process can load only one ONNX Runtime library)", resolved, ortEnvironment.library)
		}
		return nil
	}
	ort.SetSharedLibraryPath(resolved)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		if strings.Contains(err.Error(), "Error setting ORT API base") {
			return fmt.Errorf("ONNX Runtime library %s is too old: onnxruntime_go v1.27.0 needs C API 24 "+
				"(ONNX Runtime >= 1.24); %s: %w", resolved, fetchHint(), err)
		}
		return fmt.Errorf("loading ONNX Runtime library %s: %w", resolved, err)
	}
	if err := registerSharedCPUArena(); err != nil {
		return err
	}
	ortEnvironment.library = resolved
	return nil
}

// LoadRuntime loads the ONNX Runtime library at path, as New does on its first call in a process (a
// later call must name the same library), and names it as "ONNX Runtime 1.24.1": its version from
// the library itself, which a path need not say. A report says what computed it before anything runs.
func LoadRuntime(path string) (string, error) {
	if err := initORTEnvironment(path); err != nil {
		return "", err
	}
	return "ONNX Runtime " + ort.GetVersion(), nil
}

// registerSharedCPUArena gives the environment one CPU arena that every session uses (sessions opt in
// with session.use_env_allocators). With one session per layer, per-session arenas put each layer's
// intermediate buffers in different memory, cold in cache when the layer runs; one shared arena reuses the
// same warm buffers layer after layer. Measured on the bench preset (2 cores): segmented full run at 0.95
// of the single graph's speed with per-session arenas, 1.00 with the shared one.
func registerSharedCPUArena() error {
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return fmt.Errorf("registering the shared CPU arena: %w", err)
	}
	arena, err := ort.NewArenaCfg(0, -1, -1, -1) // ORT's defaults: no limit, default chunk sizes
	if err != nil {
		return fmt.Errorf("registering the shared CPU arena: %w", err)
	}
	defer arena.Destroy()
	if err := ort.CreateAndRegisterAllocator(mi, arena); err != nil {
		return fmt.Errorf("registering the shared CPU arena: %w", err)
	}
	return nil
}

// newSessionOptions builds the options every session of a backend shares (ORT copies them into each
// session, so one instance serves all and is destroyed after the sessions exist).
func newSessionOptions(cfg Config) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("creating ORT session options: %w", err)
	}
	if err := configureSessionOptions(opts, cfg); err != nil {
		opts.Destroy()
		return nil, err
	}
	return opts, nil
}

func configureSessionOptions(opts *ort.SessionOptions, cfg Config) error {
	if err := opts.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
		return fmt.Errorf("setting %d intra-op threads: %w", cfg.IntraOpThreads, err)
	}
	// Graphs run sequentially: the inter-op pool would only add idle threads.
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return fmt.Errorf("setting inter-op threads: %w", err)
	}
	if err := opts.SetExecutionMode(ort.ExecutionModeSequential); err != nil {
		return fmt.Errorf("setting sequential execution: %w", err)
	}
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return fmt.Errorf("setting graph optimization level: %w", err)
	}
	// Spinning pools of many small sessions on few cores measured 22x slower on average and 50x at p99
	// than one graph (docs/notes/onnxruntime.md); with spinning off they cost almost nothing.
	// One CPU arena for all sessions (see registerSharedCPUArena).
	if err := opts.AddSessionConfigEntry("session.use_env_allocators", "1"); err != nil {
		return fmt.Errorf("setting session.use_env_allocators=1: %w", err)
	}
	for _, key := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
		if err := opts.AddSessionConfigEntry(key, "0"); err != nil {
			return fmt.Errorf("setting %s=0: %w", key, err)
		}
	}
	switch cfg.Provider {
	case ProviderCUDA:
		return appendCUDA(opts, cfg)
	case ProviderTensorRT:
		// Registration order is priority: TensorRT takes what it can, CUDA runs the rest.
		if err := appendTensorRT(opts, cfg); err != nil {
			return err
		}
		return appendCUDA(opts, cfg)
	}
	return nil
}

func appendCUDA(opts *ort.SessionOptions, cfg Config) error {
	cuda, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return providerError(ProviderCUDA, cfg, err)
	}
	defer cuda.Destroy()
	if err := cuda.Update(map[string]string{"device_id": strconv.Itoa(cfg.DeviceID)}); err != nil {
		return providerError(ProviderCUDA, cfg, err)
	}
	if err := opts.AppendExecutionProviderCUDA(cuda); err != nil {
		return providerError(ProviderCUDA, cfg, err)
	}
	return nil
}

// tensorRTOptions are the TensorRT provider's option keys for cfg (see docs/notes/onnxruntime.md).
func tensorRTOptions(cfg Config) map[string]string {
	boolString := map[bool]string{false: "0", true: "1"}
	o := map[string]string{
		"device_id":               strconv.Itoa(cfg.DeviceID),
		"trt_fp16_enable":         boolString[cfg.TensorRT.FP16],
		"trt_engine_cache_enable": "1",
		"trt_timing_cache_enable": "1",
		"trt_timing_cache_path":   cfg.TensorRT.TimingCacheDir,
	}
	if cfg.TensorRT.EngineCacheDir != "" {
		o["trt_engine_cache_path"] = cfg.TensorRT.EngineCacheDir
	}
	if l := cfg.TensorRT.BuilderOptimizationLevel; l > 0 {
		o["trt_builder_optimization_level"] = strconv.Itoa(l)
	}
	return o
}

// appendTensorRT asks for the TensorRT provider. Its cache directories are made only once the library
// has taken the options (a CPU-only build refuses them), and removed again when the provider is not
// appended after all: asking for a provider the library lacks leaves nothing in the bundle.
func appendTensorRT(opts *ort.SessionOptions, cfg Config) error {
	trt, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return providerError(ProviderTensorRT, cfg, err)
	}
	defer trt.Destroy()
	// A CPU-only library refuses the options: say so before reading the whole bundle for its digest.
	// The second call gives every option again, the engine cache's path among them.
	if err := trt.Update(tensorRTOptions(cfg)); err != nil {
		return providerError(ProviderTensorRT, cfg, err)
	}
	if cfg.TensorRT.EngineCacheDir, err = cfg.engineCacheDir(); err != nil {
		return err
	}
	if err := trt.Update(tensorRTOptions(cfg)); err != nil {
		return providerError(ProviderTensorRT, cfg, err)
	}
	var made []string // the directories made here, parents first
	for _, dir := range []string{cfg.TensorRT.EngineCacheDir, cfg.TensorRT.TimingCacheDir} {
		missing, err := missingDirs(dir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			removeDirs(made)
			return fmt.Errorf("provider %s: creating cache directory: %w", ProviderTensorRT, err)
		}
		made = append(made, missing...)
	}
	if err := opts.AppendExecutionProviderTensorRT(trt); err != nil {
		removeDirs(made)
		return providerError(ProviderTensorRT, cfg, err)
	}
	return nil
}

// missingDirs lists dir and those of its parents that do not exist yet, parents first.
func missingDirs(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append([]string{d}, missing...)
		if d == filepath.Dir(d) {
			break
		}
	}
	return missing, nil
}

// removeDirs removes the directories made, children first; one that is no longer empty stays.
func removeDirs(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		_ = os.Remove(made[i])
	}
}

// libraryOrigin names where a library path came from when it is the environment's: a stale
// $DYSL_ORT_LIB in a shell profile is the usual reason a path nobody typed is missing.
func libraryOrigin(path string) string {
	if path == os.Getenv(LibraryEnvVar) {
		return " (from $" + LibraryEnvVar + ")"
	}
	return ""
}

// providerError explains the usual cause of a provider failure: the CPU-only library (what
// scripts/fetch-ort.sh installs) has no GPU providers, and ORT then says only "Failed to load shared
// library", "Failed to load library ...providers_shared.so" or "not supported in this build".
func providerError(provider string, cfg Config, err error) error {
	lib := cfg.LibraryPath
	msg := err.Error()
	if strings.Contains(msg, "Failed to load") || strings.Contains(msg, "not supported in this build") {
		return fmt.Errorf("provider %s is not available in ONNX Runtime library %s (a CPU-only build, or its "+
			"libonnxruntime_providers_shared.so and libonnxruntime_providers_%s.so are missing next to it); "+
			"use a GPU build of ONNX Runtime >= 1.24, or the %s provider: %w", provider, lib, provider, ProviderCPU, err)
	}
	return fmt.Errorf("provider %s: %w", provider, err)
}
