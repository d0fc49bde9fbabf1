package main

import (
	"math/rand"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

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
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model bundle directory (dysl model build writes one)")
	fs.StringVar(&f.ortLib, "ort-lib", "", "libonnxruntime.so to load (default: $DYSL_ORT_LIB; `make ort` installs one)")
	fs.StringVar(&f.provider, "provider", ortbackend.ProviderCPU, "execution provider: cpu, cuda or tensorrt")
	fs.IntVar(&f.threads, "threads", 1, "intra-op threads per ONNX Runtime session")
	fs.BoolVar(&f.trtFP16, "trt-fp16", true, "with --provider tensorrt: allow fp16 kernels")
}

func (f *engineFlags) ortConfig() ortbackend.Config {
	return ortbackend.Config{
		LibraryPath:    f.ortLib,
		Provider:       f.provider,
		IntraOpThreads: f.threads,
		TensorRT:       ortbackend.TensorRTConfig{FP16: f.trtFP16},
	}
}

// backend starts ONNX Runtime backends with these flags' runtime options.
func (f *engineFlags) backend() policy.BackendOpener {
	return ortbackend.Opener(f.ortConfig())
}

func (f *engineFlags) open(cfg skipping.Config) (*policy.Engine, error) {
	return f.openAt(f.model, cfg)
}

// openAt opens the bundle in dir with these flags' runtime options.
func (f *engineFlags) openAt(dir string, cfg skipping.Config) (*policy.Engine, error) {
	return policy.Open(dir, f.backend(), cfg)
}

// syntheticObservations makes n seeded random frames of the model's input size, for benchmarks that
// measure compute, not behaviour.
func syntheticObservations(e *policy.Engine, n int, seed int64) []policy.Observation {
	rng := rand.New(rand.NewSource(seed))
	w, h := e.Manifest.Image.Width, e.Manifest.Image.Height
	instructions := []string{"pick up the red block", "place it on the green pad", "open the gripper"}
	out := make([]policy.Observation, n)
	for i := range out {
		data := make([]byte, w*h*3)
		rng.Read(data)
		out[i] = policy.Observation{
			Image:       policy.Image{Width: w, Height: h, Encoding: "rgb8", Step: 3 * w, Data: data},
			Instruction: instructions[i%len(instructions)],
		}
	}
	return out
}

// newProgressBar draws a progress bar on stderr when it is a terminal, and nothing otherwise (logs and
// CI output stay readable).
func newProgressBar(total int, description string) *progressbar.ProgressBar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(description), progressbar.OptionClearOnFinish())
}
