package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"dysl_vla/policy"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/skipping"
)

// engineFlags are the options every command that runs a model shares.
type engineFlags struct {
	model    string
	ortLib   string
	provider string
	threads  int
	trtFP16  bool
	flags    *pflag.FlagSet // where they were registered, to tell a flag given from its default
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model bundle directory (dysl model build writes one)")
	markInput(fs, "model", inputBundle)
	f.registerRuntime(fs)
}

// registerRuntime registers how ONNX Runtime runs the graphs, for a command that names its bundle
// otherwise.
func (f *engineFlags) registerRuntime(fs *pflag.FlagSet) {
	f.flags = fs
	fs.StringVar(&f.ortLib, "ort-lib", "", "`path` of the libonnxruntime.so to load (default: $DYSL_ORT_LIB, else the one make ort or make demo installed in the repository's .cache/)")
	fs.StringVar(&f.provider, "provider", ortbackend.ProviderCPU, "execution provider: cpu, cuda or tensorrt")
	fs.IntVar(&f.threads, "threads", 1, fmt.Sprintf("intra-op threads per ONNX Runtime session, 1..%d", ortbackend.MaxIntraOpThreads))
	fs.BoolVar(&f.trtFP16, "trt-fp16", true, "with --provider tensorrt: allow fp16 kernels")
}

// ortConfig is the backend configuration the flags give, or an error naming the flag that is out of
// range.
func (f *engineFlags) ortConfig() (ortbackend.Config, error) {
	if f.threads < 1 || f.threads > ortbackend.MaxIntraOpThreads {
		return ortbackend.Config{}, fmt.Errorf("--threads %d: expected 1..%d intra-op threads per ONNX Runtime session",
			f.threads, ortbackend.MaxIntraOpThreads)
	}
	switch f.provider {
	case "", ortbackend.ProviderCPU, ortbackend.ProviderCUDA, ortbackend.ProviderTensorRT:
	default: // said before a summary or a model is built, and by the flag's name
		return ortbackend.Config{}, fmt.Errorf("--provider %q: expected %s, %s or %s",
			f.provider, ortbackend.ProviderCPU, ortbackend.ProviderCUDA, ortbackend.ProviderTensorRT)
	}
	if f.provider != ortbackend.ProviderTensorRT && f.flags != nil {
		if err := refuseUnused(f.flags, "--provider tensorrt", "trt-fp16"); err != nil {
			return ortbackend.Config{}, err
		}
	}
	lib := f.ortLib
	if lib == "" {
		lib = ortbackend.DefaultLibrary()
	}
	return ortbackend.Config{
		LibraryPath:    lib,
		Provider:       f.provider,
		IntraOpThreads: f.threads,
		TensorRT:       ortbackend.TensorRTConfig{FP16: f.trtFP16},
	}, nil
}

// computes says what of these options changes the actions a model computes, for a journal's
// identity: the provider, and fp16 where TensorRT may use it. Threads change how long an inference
// takes, as the machine's load does; under --latency measured that moves the episodes, which no
// journal can hold fixed (a report's note says that resumed rounds were timed then).
func (f *engineFlags) computes() string {
	if f.provider == ortbackend.ProviderTensorRT {
		return fmt.Sprintf("provider=%s fp16=%v", f.provider, f.trtFP16)
	}
	return "provider=" + f.provider
}

// backend starts ONNX Runtime backends with these flags' runtime options.
func (f *engineFlags) backend() (policy.BackendOpener, error) {
	cfg, err := f.ortConfig()
	if err != nil {
		return nil, err
	}
	return ortbackend.Opener(cfg), nil
}

func (f *engineFlags) open(cfg skipping.Config) (*policy.Engine, error) {
	return f.openAt(f.model, cfg)
}

// openAt opens the bundle in dir with these flags' runtime options.
func (f *engineFlags) openAt(dir string, cfg skipping.Config) (*policy.Engine, error) {
	backend, err := f.backend()
	if err != nil {
		return nil, err
	}
	return policy.Open(dir, backend, cfg)
}
