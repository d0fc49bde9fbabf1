package modelbuild

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dysl_vla/hostmemory"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
)

// Options configure Build.
type Options struct {
	Preset string // a key of Presets
	OutDir string // missing, empty, or a bundle Build wrote; replaced whole (bundle.Replace): its old graphs go, its other files stay
	Seed   int64  // random init and calibration inputs
	// WeightsFile, when set, is a safetensors file holding the backbone (names: WeightNames) used instead
	// of random initialization.
	WeightsFile string
	// StaticRatio is the fraction of layers kept static (always executed). It defaults to 0.2.
	StaticRatio float64
	// CalibrationFrames overrides the preset's number of calibration observations when > 0 (context
	// adapters default to at least ContextCalibrationFrames).
	CalibrationFrames int
	// Tasks are the scenes the calibration frames come from: the single task when zero, tabletop
	// scenes otherwise. Use the scenes the backbone was trained on: the static layers and the
	// closed-form adapters are fitted on the hidden states of these frames.
	Tasks scene.Tabletop
	// AdapterRank, when > 0, overrides the preset's adapter bottleneck width.
	AdapterRank int
	// AdapterContext makes context adapters (Arch.AdapterContext): each token also reads the means of
	// the token groups, which a per-token map cannot see.
	AdapterContext bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Warn receives warnings (a WeightsFile whose training did not finish); nil sends them to Log.
	Warn io.Writer
	// Now stamps provenance.created; it defaults to time.Now. Tests pin it for reproducible manifests.
	Now func() time.Time
}

// MaxCalibrationFrames bounds the calibration observations: a million would take terabytes (every
// layer's hidden state of each is kept), and far beyond it the count and its held-out quarter would
// overflow an int before the memory check could refuse them.
const MaxCalibrationFrames = 1_000_000

// ContextCalibrationFrames is the fewest calibration observations context adapters are fitted on by
// default. A frame gives each token's own input but only one context vector (3·D values): on the small
// presets' 48 frames the context term overfits (held-out unexplained 0.585 for the longest jump of the
// committed small_relative weights, against 0.426 on 256 frames).
const ContextCalibrationFrames = 256

// Result is what Build made.
type Result struct {
	Manifest bundle.Manifest
	Model    *Model // the reference model of the bundle, adapters and controllers included
	Params   int64  // backbone parameters
}

// Build makes a complete bundle in opts.OutDir: it initializes or loads the backbone, runs the reference
// model over calibration observations, chooses the static layers, fits the adapters, makes stand-in
// controllers, writes every graph and the manifest, and finally validates the result with bundle.Load.
func Build(opts Options) (*Result, error) {
	preset, err := LookupPreset(opts.Preset)
	if err != nil {
		return nil, fmt.Errorf("modelbuild: %w", err)
	}
	if opts.OutDir == "" {
		return nil, fmt.Errorf("modelbuild: no output directory")
	}
	// Before the calibration (42 s on the bench preset), not when the bundle is put in place.
	if err := bundle.CheckReplaceable(opts.OutDir); err != nil {
		return nil, fmt.Errorf("modelbuild: output %w", err)
	}
	if err := checkOutDir(opts.OutDir); err != nil {
		return nil, err
	}
	if opts.StaticRatio == 0 {
		opts.StaticRatio = 0.2
	}
	if err := CheckStaticRatio(opts.StaticRatio); err != nil {
		return nil, err
	}
	if opts.CalibrationFrames < 0 || opts.CalibrationFrames > MaxCalibrationFrames {
		return nil, fmt.Errorf("modelbuild: calibration observations (%d) must be in [1, %d], or 0 for the preset's %d", opts.CalibrationFrames, MaxCalibrationFrames, preset.CalibrationFrames)
	}
	if opts.CalibrationFrames == 0 {
		opts.CalibrationFrames = preset.CalibrationFrames
		if opts.AdapterContext {
			opts.CalibrationFrames = max(opts.CalibrationFrames, ContextCalibrationFrames)
		}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Warn == nil {
		opts.Warn = opts.Log
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := preset.Arch
	if opts.AdapterRank < 0 {
		return nil, fmt.Errorf("modelbuild: adapter rank (%d) must be > 0, or 0 for the preset's %d", opts.AdapterRank, a.AdapterRank)
	}
	if opts.AdapterRank > 0 {
		a.AdapterRank = opts.AdapterRank
	}
	a.AdapterContext = opts.AdapterContext
	if err := a.Validate(); err != nil {
		return nil, err
	}

	weights := RandomWeights(a, opts.Seed)
	weightsNote := ""
	if opts.WeightsFile != "" {
		var err error
		var metadata map[string]string
		if weights, metadata, err = loadWeights(opts.WeightsFile, a); err != nil {
			return nil, err
		}
		if why := unfinishedTraining(metadata); why != "" {
			fmt.Fprintf(opts.Warn, "warning: weights %s: %s\n", opts.WeightsFile, why)
		}
		weightsNote = filepath.Base(opts.WeightsFile)
	}
	model := &Model{Arch: a, Weights: weights, Adapters: map[int]*AdapterWeights{}, Controllers: map[int]*ControllerWeights{}}

	// The held-out observations only measure how well each adapter generalizes (see adapterFit).
	heldOutFrames := max(2, opts.CalibrationFrames/4)
	// Calibration keeps every layer's hidden state of every observation in float64, an adapter's fit
	// four more while it stacks its problem, and the garbage collector lets the heap grow to about twice
	// what is live: 1.7 MB an observation of the tiny preset, as measured (peak RSS of 400 and 1600
	// calibration observations). A run that cannot fit is refused here, not killed part way.
	each := 2 * uint64(8*a.Tokens()*a.Hidden*(a.Layers+1+4)+4*3*a.ImageSize*a.ImageSize)
	if err := hostmemory.Check(opts.CalibrationFrames+heldOutFrames, "calibration observations", each); err != nil {
		return nil, fmt.Errorf("modelbuild: %w: use fewer calibration observations", err)
	}
	fmt.Fprintf(opts.Log, "calibrating on %d+%d held-out observations (%d layers, hidden %d, %d tokens)\n",
		opts.CalibrationFrames, heldOutFrames, a.Layers, a.Hidden, a.Tokens())
	observations, err := SceneCalibrationObservations(a, opts.CalibrationFrames+heldOutFrames, opts.Seed, opts.Tasks)
	if err != nil {
		return nil, err
	}
	cal, err := model.calibrate(observations[:opts.CalibrationFrames])
	if err != nil {
		return nil, err
	}
	heldOut, err := model.calibrate(observations[opts.CalibrationFrames:])
	if err != nil {
		return nil, err
	}
	similarity := cal.layerSimilarity(a.Layers)
	for i, sim := range similarity {
		if math.IsNaN(sim) || math.IsInf(sim, 0) {
			return nil, fmt.Errorf("modelbuild: calibration: layer %d's input/output similarity is %v, not finite: the backbone's hidden states are zero or overflow (similarities %v); no bundle written",
				i, sim, similarity)
		}
	}
	static := ChooseStatic(similarity, opts.StaticRatio)
	next := nextStatic(a.Layers, static)
	dynamic := make([]int, 0, len(next))
	for j := range next {
		dynamic = append(dynamic, j)
	}
	sort.Ints(dynamic)
	fmt.Fprintf(opts.Log, "static layers %v\n", static)

	var unexplained, skipProbs []string
	fits := map[int]adapterFit{}
	for _, j := range dynamic {
		w, fit, err := model.fitAdapter(cal, heldOut, j, next[j])
		if err != nil {
			return nil, err
		}
		if math.IsNaN(fit.Unexplained) || math.IsInf(fit.Unexplained, 0) {
			return nil, fmt.Errorf("modelbuild: calibration: adapter %d -> %d: held-out unexplained fraction is %v, not finite; no bundle written", j, next[j], fit.Unexplained)
		}
		model.Adapters[j], fits[j] = w, fit
		unexplained = append(unexplained, fmt.Sprintf("%d→%d: %.3f (ridge %.0e)", j, next[j], fit.Unexplained, fit.Ridge))
		fmt.Fprintf(opts.Log, "adapter %d -> %d: held-out unexplained %.3f (ridge %.0e)\n", j, next[j], fit.Unexplained, fit.Ridge)
	}
	probs := standInSkipProbs(fits)
	for _, j := range dynamic {
		model.Controllers[j] = initController(a, j, probs[j], opts.Seed)
		skipProbs = append(skipProbs, fmt.Sprintf("%d: %.2f", j, probs[j]))
	}

	m := bundle.Manifest{
		Format: bundle.FormatVersion,
		Name:   fmt.Sprintf("dysl-%s-seed%d", preset.Name, opts.Seed),
		Provenance: bundle.Provenance{
			Builder: provenanceBuilder,
			Preset:  preset.Name,
			Seed:    opts.Seed,
			Weights: weightsNote,
			Adapters: fmt.Sprintf("closed form, not trained: linear rank-%d residual %s, "+
				"ridge least squares (penalty per adapter, from %v x mean diagonal, picked by held-out error) of h_s - h_j on RMSNorm(h_j) over %d calibration observations x %d tokens "+
				"(scene frames from pick-and-place episodes at the model's image size, seed %d), then reduced-rank projection onto the top %d right singular vectors "+
				"of the fitted values; unexplained fraction of h_s - h_j on %d held-out observations, per adapter: %s",
				a.AdapterRank, a.AdapterFormula(), adapterRidges, opts.CalibrationFrames, a.Tokens(), opts.Seed, a.AdapterRank, heldOutFrames, strings.Join(unexplained, ", ")),
			Controllers: fmt.Sprintf("not trained (no distillation yet): fc2 = 0, so each controller outputs a constant "+
				"skip_prob that ranks its adapter's held-out fit (best %.2f, worst %.2f, linear in between); fc1 random N(0, 1/D); "+
				"skip_prob per layer: %s", maxSkipProb, minSkipProb, strings.Join(skipProbs, ", ")),
			Created: opts.Now().UTC().Format(time.RFC3339),
		},
		Dims: bundle.Dims{
			Layers: a.Layers, Hidden: a.Hidden, Heads: a.Heads, MLP: a.MLP, Tokens: a.Tokens(),
			InstructionTokens: a.InstructionTokens, Vocab: a.Vocab, AdapterRank: a.AdapterRank,
			AdapterContext: a.AdapterContextWidth() / a.Hidden, Chunk: a.Chunk, ActionDim: a.ActionDim,
		},
		Image:         a.ImageSpec(),
		Tokenizer:     bytesTokenizer,
		Action:        DefaultActionSpec(a.ActionDim),
		State:         a.stateSpec(),
		StaticLayers:  static,
		StaticProfile: similarity,
		FLOPs:         a.FLOPs(),
	}
	// The graphs and the manifest are made beside the directory and put in its place together, so
	// that a build stopped part way over an existing bundle leaves that bundle as it was.
	err = bundle.Replace(opts.OutDir, func(staging string) error {
		old, oldErr := bundle.ReadManifest(staging) // the bundle built over, if any
		if m.Files, err = writeGraphs(staging, model, dynamic, preset.ExternalData); err != nil {
			return err
		}
		if err := bundle.Write(staging, &m); err != nil {
			return err
		}
		if oldErr != nil {
			return nil // nothing there, or nothing readable to say which graphs were its own
		}
		return bundle.RemoveStaleGraphs(staging, old, &m)
	})
	if err != nil {
		return nil, err
	}
	var params int64
	for _, shape := range WeightNames(a) {
		params += onnxgraph.NumElements(shape)
	}
	return &Result{Manifest: m, Model: model, Params: params}, nil
}

// provenanceBuilder is provenance.builder of the bundles Build writes; calibrate and distill keep it.
const provenanceBuilder = "dysl model build"

// checkOutDir refuses an output directory that holds anything but a bundle Build wrote: the build
// replaces the directory whole, so a hand-made bundle there (a model brought from elsewhere), or files
// that are no bundle at all, would be gone without a word. An empty or missing directory, and a
// bundle Build wrote (rebuilt by the scripts round after round), are built into.
func checkOutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("modelbuild: output %w", err)
	case len(entries) == 0:
		return nil
	}
	const what = "dysl model build replaces the directory whole: give another --out, or remove %s first"
	m, err := bundle.ReadManifest(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var names []string
		for _, e := range entries[:min(len(entries), 3)] {
			names = append(names, e.Name())
		}
		if len(entries) > 3 {
			names = append(names, fmt.Sprintf("%d more", len(entries)-3))
		}
		return fmt.Errorf("modelbuild: output %s is not a bundle (no %s; it holds %s): "+what,
			dir, bundle.ManifestFile, strings.Join(names, ", "), dir)
	case err != nil:
		return fmt.Errorf("modelbuild: output %s: its %s does not read (%v), so nothing says dysl model build wrote it: "+what,
			dir, bundle.ManifestFile, err, dir)
	case m.Provenance.Builder != provenanceBuilder:
		return fmt.Errorf("modelbuild: output %s holds a bundle that dysl model build did not write (provenance.builder is %q, not %q): "+what,
			dir, m.Provenance.Builder, provenanceBuilder, dir)
	}
	return nil
}

// referenceOnly says why a bundle of another model is refused by what rebuilds its backbone here
// (BundleArch's callers: calibrate, distill, the open-loop evaluation and the early-exit baseline).
func referenceOnly() string {
	return "calibrate, distill and the open-loop evaluate (and the early-exit baseline) rebuild the backbone of dysl model build's " +
		"reference architecture in Go, so they run only on a bundle built from one of its presets (" + strings.Join(PresetNames(), ", ") +
		"); a bundle of another model brings its static layers, adapters and controllers from its own training (docs/BUNDLE.md)"
}

// BundleArch is the architecture a bundle was built with: its preset's (provenance.preset), with the
// adapters' rank and context from the manifest's dims, since dysl model build may change both. The
// preset's sizes must match the dims.
func BundleArch(m *bundle.Manifest) (Arch, error) {
	preset, ok := presets[m.Provenance.Preset]
	if !ok {
		return Arch{}, fmt.Errorf("provenance.preset is %q, not a preset of the reference architecture: %s", m.Provenance.Preset, referenceOnly())
	}
	a, d := preset.Arch, m.Dims
	// Every size the preset fixes (of the state, how many values, not which): a wrong dims.heads (the
	// graphs of older bundles carry no dysl.heads to check it against) would rebuild a backbone of
	// another attention layout.
	var differ []string
	for _, f := range []struct {
		name              string
		bundle, reference int
	}{
		{"dims.layers", d.Layers, a.Layers}, {"dims.hidden", d.Hidden, a.Hidden}, {"dims.heads", d.Heads, a.Heads}, {"dims.mlp", d.MLP, a.MLP},
		{"dims.tokens", d.Tokens, a.Tokens()}, {"dims.instruction_tokens", d.InstructionTokens, a.InstructionTokens},
		{"dims.vocab", d.Vocab, a.Vocab}, {"dims.chunk", d.Chunk, a.Chunk}, {"dims.action_dim", d.ActionDim, a.ActionDim},
		{"image.width", m.Image.Width, a.ImageSize}, {"image.height", m.Image.Height, a.ImageSize},
		{"len(state.names)", m.StateDim(), a.StateDim},
	} {
		if f.bundle != f.reference {
			differ = append(differ, fmt.Sprintf("%s is %d, the preset's %d", f.name, f.bundle, f.reference))
		}
	}
	if len(differ) > 0 {
		return a, fmt.Errorf("provenance.preset is %s, but the sizes are not its (%s): %s", preset.Name, strings.Join(differ, "; "), referenceOnly())
	}
	a.AdapterRank = d.AdapterRank
	switch d.AdapterContext {
	case 0:
	case len(a.TokenGroups()):
		a.AdapterContext = true
	default:
		return a, fmt.Errorf("dims.adapter_context is %d: preset %s has %d token groups (or 0 for plain adapters)", d.AdapterContext, preset.Name, len(a.TokenGroups()))
	}
	return a, a.Validate()
}

// stateSpec is the manifest's state block: the scene's robot state, the only one a preset reads.
func (a Arch) stateSpec() *bundle.StateSpec {
	if a.StateDim == 0 {
		return nil
	}
	spec := SceneStateSpec()
	return &spec
}

// DefaultActionSpec is the action layout of an end-effector delta policy (OpenVLA/LIBERO style): xyz
// position deltas in metres, roll/pitch/yaw deltas in radians, gripper in [-1, 1]. The statistics are
// placeholders of plausible scale for a synthetic model; a trained bundle carries its dataset's. Training
// normalizes its labels with the same statistics, so that a bundle built from trained weights
// denormalizes chunks exactly as the labels were normalized: this is their one definition.
func DefaultActionSpec(dim int) bundle.ActionSpec {
	names := scene.ActionNames
	std := []float64{0.01, 0.01, 0.01, 0.05, 0.05, 0.05, 1}
	spec := bundle.ActionSpec{GripperIndex: -1, DtSeconds: 0.1}
	for i := 0; i < dim; i++ {
		if i < len(names) {
			spec.Names = append(spec.Names, names[i])
			spec.Std = append(spec.Std, std[i])
		} else {
			spec.Names = append(spec.Names, fmt.Sprintf("a%d", i))
			spec.Std = append(spec.Std, 1)
		}
		spec.Mean = append(spec.Mean, 0)
	}
	if dim > scene.GripperIndex {
		spec.GripperIndex = scene.GripperIndex
	}
	return spec
}

// externalThreshold: initializers this large or larger go to external data when a preset asks for it.
const externalThreshold = 4096

// writeGraphs writes every graph into dir and returns the manifest's file table. With external data,
// the per-part graphs own the data files and full.onnx points into them instead of storing a copy.
func writeGraphs(dir string, model *Model, dynamic []int, external bool) (bundle.Files, error) {
	graphs := model.graphs(dynamic)
	files := bundle.Files{
		Prefix: prefixFile, Head: headFile, Full: fullFile,
		Adapters: map[int]string{}, Controllers: map[int]string{},
	}
	for i := 0; i < model.Arch.Layers; i++ {
		files.Layers = append(files.Layers, layerFile(i))
	}
	for _, j := range dynamic {
		files.Adapters[j] = adapterFile(j)
		files.Controllers[j] = controllerFile(j)
	}
	names := make([]string, 0, len(graphs))
	for name := range graphs {
		if name != fullFile {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	opts := onnxgraph.WriteOptions{ExternalData: external, ExternalThreshold: externalThreshold}
	shared := map[string]onnxgraph.ExternalRef{}
	for _, name := range names {
		written, err := graphs[name]().WriteFile(filepath.Join(dir, name), opts)
		if err != nil {
			return files, fmt.Errorf("modelbuild: %s: %w", name, err)
		}
		for k, v := range written {
			shared[k] = v
		}
	}
	if _, err := graphs[fullFile]().WriteFile(filepath.Join(dir, fullFile), onnxgraph.WriteOptions{Reuse: shared}); err != nil {
		return files, fmt.Errorf("modelbuild: %s: %w", fullFile, err)
	}
	return files, nil
}
