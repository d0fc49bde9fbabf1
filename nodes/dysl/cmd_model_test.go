package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
)

func TestModelBuildAndCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	out, _, err := runDysl("model", "build", "--preset", "tiny", "--out", dir, "--seed", "3", "--calibration", "8")
	require.NoError(t, err)
	require.Contains(t, out, "wrote "+dir+" (dysl-tiny-seed3")

	t.Run("check prints the summary", func(t *testing.T) {
		out, _, err := runDysl("model", "check", dir)
		require.NoError(t, err)
		for _, want := range []string{
			"runs in ONNX Runtime (provider cpu): every graph ran once",
			"dims: 8 layers, hidden 64, 4 heads",
			"static layers: [",
			"layer_07.onnx",
			"full.onnx",
			"FLOPs per inference:",
			"adapters: closed form, not trained",
		} {
			require.Contains(t, out, want)
		}
	})

	// A head that declares the chunk's shape and computes another passes every check of the files;
	// ONNX Runtime finds it when it runs the graph, and so does check, unless --structure-only.
	t.Run("check runs the graphs", func(t *testing.T) {
		lying := filepath.Join(t.TempDir(), "lying")
		require.NoError(t, os.CopyFS(lying, os.DirFS(dir)))
		m, err := bundle.ReadManifest(lying)
		require.NoError(t, err)
		T := int64(m.Dims.Tokens)
		b := onnxgraph.NewBuilder("head")
		b.SetMetadata(bundle.MetaRole, "head")
		h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, int64(m.Dims.Hidden))
		b.Output(bundle.OutputActions, b.Slice(b.Slice(h, 1, T-4, T), 2, 0, 7), onnxgraph.Float, 1, 8, 7) // 4 rows, not 8
		_, err = b.WriteFile(filepath.Join(lying, m.Files.Head), onnxgraph.WriteOptions{})
		require.NoError(t, err)
		require.NoError(t, bundle.Write(lying, m)) // records the lying head's digest, as a tool would
		_, _, err = runDysl("model", "check", lying)
		require.ErrorContains(t, err, "bundle "+lying+" does not run in ONNX Runtime (provider cpu): ")
		out, _, err := runDysl("model", "check", "--structure-only", lying)
		require.NoError(t, err)
		require.NotContains(t, out, "runs in ONNX Runtime")
	})

	// A graph copied in from a sibling bundle of the same shapes passes every check of its structure,
	// and runs: only the digest the manifest recorded tells it apart.
	t.Run("check finds a graph from another bundle", func(t *testing.T) {
		mixed := withSiblingsHead(t, dir)
		for _, args := range [][]string{{"model", "check", mixed}, {"model", "check", "--structure-only", mixed}} {
			_, stderr, err := runDysl(args...)
			require.EqualError(t, err, "bundle "+mixed+" is invalid: 1 problem(s)", args)
			require.Contains(t, stderr, "head.onnx: sha256: is not the file the tools wrote", args)
		}
	})

	// A controller that gives a logit and a head that gives NaN are of the right shapes and run: check
	// looks at what they give, and names the graph and the tensor.
	t.Run("check refuses outputs no frame could use", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "broken")
		require.NoError(t, os.CopyFS(broken, os.DirFS(dir)))
		m, err := bundle.ReadManifest(broken)
		require.NoError(t, err)
		T, D := int64(m.Dims.Tokens), int64(m.Dims.Hidden)
		j := m.DynamicLayers()[0]
		b := onnxgraph.NewBuilder("controller")
		h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, D)
		logit := b.Add(b.MatMul(b.ReduceMean(h, false, 1), b.Weight("w", []int64{D, 1}, make([]float32, D))), b.Scalar(1.5))
		b.Output(bundle.OutputSkipProb, logit, onnxgraph.Float, 1, 1)
		_, err = b.WriteFile(filepath.Join(broken, m.Files.Controllers[j]), onnxgraph.WriteOptions{})
		require.NoError(t, err)
		b = onnxgraph.NewBuilder("head")
		h = b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, D)
		zero := b.Mul(b.Slice(b.Slice(h, 1, T-8, T), 2, 0, 7), b.Scalar(0))
		b.Output(bundle.OutputActions, b.Div(zero, b.Scalar(0)), onnxgraph.Float, 1, 8, 7)
		_, err = b.WriteFile(filepath.Join(broken, m.Files.Head), onnxgraph.WriteOptions{})
		require.NoError(t, err)
		require.NoError(t, bundle.Write(broken, m)) // records their digests, as a tool would
		stdout, _, err := runDysl("model", "check", broken)
		require.ErrorContains(t, err, fmt.Sprintf("controller %d (%s): output skip_prob is 1.5 on the warm-up observation, expected a probability in [0, 1]", j, m.Files.Controllers[j]))
		require.ErrorContains(t, err, fmt.Sprintf("head (%s): output actions has 56 of 56 values not finite (value 0 is NaN)", m.Files.Head))
		require.NotContains(t, stdout, "every graph ran once")
	})

	// Graphs of the right shapes that are not this model's run, and give finite chunks: only the
	// single graph, the reference the segmented run must match, tells them apart.
	t.Run("check compares the segmented run with the single graph", func(t *testing.T) {
		out, _, err := runDysl("model", "check", dir)
		require.NoError(t, err)
		require.Contains(t, out, "segmented run with every layer matches full.onnx: identical chunks, tolerance 0.001")

		foreign := withSiblingsHead(t, dir)
		m, err := bundle.ReadManifest(foreign)
		require.NoError(t, err)
		require.NoError(t, bundle.Write(foreign, m)) // the head's digest recorded: the sha256 table cannot tell
		_, _, err = runDysl("model", "check", foreign)
		require.ErrorContains(t, err, "bundle "+foreign+": the segmented run with every layer (prefix, layers 0 to 7, head) does not match full.onnx")
		require.ErrorContains(t, err, "tolerance 0.001. A layer graph is out of order, or a graph is another model's")
	})

	t.Run("check lists every problem and fails", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, "layer_02.onnx")))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "head.onnx"), []byte("not a model"), 0o644))
		_, stderr, err := runDysl("model", "check", dir)
		require.ErrorContains(t, err, "is invalid: 2 problem(s)")
		require.Contains(t, stderr, "files.layers[2]: file layer_02.onnx does not exist")
		require.Contains(t, stderr, "head.onnx: corrupt")
	})

	t.Run("build makes context adapters of another rank", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "context")
		_, _, err := runDysl("model", "build", "--preset", "tiny", "--out", dir, "--calibration", "8", "--adapter-context", "--adapter-rank", "8")
		require.NoError(t, err)
		out, _, err := runDysl("model", "check", dir)
		require.NoError(t, err)
		require.Contains(t, out, "adapter rank 8, context adapters (3 token groups)")
		require.Contains(t, out, "(n·down + c·context)·up")
	})

	t.Run("build rejects an unknown preset", func(t *testing.T) {
		_, _, err := runDysl("model", "build", "--preset", "huge", "--out", t.TempDir())
		require.ErrorContains(t, err, `unknown preset "huge"`)
	})

	t.Run("build refuses a static ratio of 0, not taking it for the default", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "b")
		_, _, err := runDysl("model", "build", "--preset", "tiny", "--out", out, "--static-ratio", "0")
		require.ErrorContains(t, err, "--static-ratio: modelbuild: static ratio (0) must be in (0, 1]")
		require.NoDirExists(t, out)
	})
}

// Commands that run a model refuse a thread count the node would refuse too, before starting anything.
func TestThreadsFlagIsBounded(t *testing.T) {
	for _, threads := range []string{"0", "65", "100000"} {
		_, _, err := runDysl("bench", "--model", t.TempDir(), "--threads", threads)
		require.ErrorContains(t, err, "--threads "+threads+": expected 1..64")
	}
}

// Without --ort-lib and DYSL_ORT_LIB, the tool takes the library `make ort` installed in the repository
// it runs from.
func TestEngineFlagsFindTheFetchedLibrary(t *testing.T) {
	if exe, err := os.Executable(); err == nil && ortbackend.FindFetchedLibrary(filepath.Dir(exe)) != "" {
		t.Skip("the test binary lies in a repository with a fetched library, which the tool prefers")
	}
	repo := t.TempDir()
	lib := filepath.Join(repo, ortbackend.FetchedLibraryPath())
	require.NoError(t, os.MkdirAll(filepath.Dir(lib), 0o755))
	require.NoError(t, os.WriteFile(lib, []byte("stands in for the library"), 0o644))
	work := filepath.Join(repo, "demo-out")
	require.NoError(t, os.MkdirAll(work, 0o755))
	t.Chdir(work)

	f := engineFlags{threads: 1}
	t.Setenv(ortbackend.LibraryEnvVar, "")
	cfg, err := f.ortConfig()
	require.NoError(t, err)
	require.Equal(t, lib, cfg.LibraryPath)

	t.Setenv(ortbackend.LibraryEnvVar, "/from/env/libonnxruntime.so")
	cfg, err = f.ortConfig()
	require.NoError(t, err)
	require.Equal(t, "/from/env/libonnxruntime.so", cfg.LibraryPath, "the environment variable wins")

	f.ortLib = "/from/flag/libonnxruntime.so"
	cfg, err = f.ortConfig()
	require.NoError(t, err)
	require.Equal(t, f.ortLib, cfg.LibraryPath)
}

// An unknown provider is refused by the flag's name before any work: model check printed the whole
// summary first, and bench named the configuration's field, not --provider.
func TestUnknownProviderIsRefusedFirst(t *testing.T) {
	for _, args := range [][]string{
		{"model", "check", filepath.Join("..", "..", "models", "reference", "tiny"), "--provider", "gpu"},
		{"bench", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--provider", "gpu"},
	} {
		stdout, _, err := runDysl(args...)
		require.EqualError(t, err, `--provider "gpu": expected cpu, cuda or tensorrt`, args)
		require.Empty(t, stdout, args)
	}
}

// Settings the chosen mode leaves unused are refused before any work, not accepted in silence: the
// runtime flags with --structure-only, fp16 for TensorRT with another provider.
func TestRuntimeFlagsThatChangeNothingAreRefused(t *testing.T) {
	_, _, err := runDysl("model", "check", "--structure-only", "--provider", "bogus", "../../models/reference/tiny")
	require.EqualError(t, err, "--provider: only with a check that runs the graphs (without --structure-only)")
	out, _, err := runDysl("model", "check", "--trt-fp16=false", "../../models/reference/tiny")
	require.EqualError(t, err, "--trt-fp16: only with --provider tensorrt")
	require.Empty(t, out, "refused before the summary")
}

// bench's own numbers are refused by their flags' names before the bundle opens (a missing bundle
// would be the error otherwise), every bad one at once.
func TestBenchNamesItsBadFlags(t *testing.T) {
	_, _, err := runDysl("bench", "--model", filepath.Join(t.TempDir(), "none"), "--ratios", "0.5,2", "--iterations", "0", "--warmup", "-1")
	require.EqualError(t, err, "--iterations 0: expected at least 1 timed inference per plan\n"+
		"--warmup -1: expected 0 or more untimed rounds\n"+
		"--ratios 2: expected skip ratios in [0, 1], shares of the dynamic layers")
}

// A command with several required flags names the ones left out, not all of them.
func TestMissingRequiredFlagsAreNamed(t *testing.T) {
	_, _, err := runDysl("replay", "--bag", "some.mcap")
	require.EqualError(t, err, "--model, --out: required, and not given")
	_, _, err = runDysl("replay", "--model", "m", "--bag", "", "--out", "o")
	require.EqualError(t, err, "--bag: required, and not given")
}

// withSiblingsHead copies the tiny bundle dir (built with seed 3) and puts into the copy the head of a
// sibling built with seed 4: the same shapes, another model. It returns the copy.
func withSiblingsHead(t *testing.T, dir string) string {
	t.Helper()
	sibling := filepath.Join(t.TempDir(), "sibling")
	_, _, err := runDysl("model", "build", "--preset", "tiny", "--out", sibling, "--seed", "4", "--calibration", "8")
	require.NoError(t, err)
	mixed := filepath.Join(t.TempDir(), "mixed")
	require.NoError(t, os.CopyFS(mixed, os.DirFS(dir)))
	head, err := os.ReadFile(filepath.Join(sibling, "head.onnx"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mixed, "head.onnx"), head, 0o644))
	return mixed
}
