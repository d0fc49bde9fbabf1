package training

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
)

// OpenBundleModel loads a bundle's backbone (see OpenBundleBackbone) into a training model: the start
// of calibrating and distilling a bundle.
func OpenBundleModel(dir, weightsFile string) (*bundle.Manifest, modelbuild.Arch, *Model, error) {
	m, a, w, err := OpenBundleBackbone(dir, weightsFile)
	if err != nil {
		return nil, modelbuild.Arch{}, nil, err
	}
	model, err := NewModel(a, w)
	if err != nil {
		return nil, modelbuild.Arch{}, nil, err
	}
	return m, a, model, nil
}

// checkBundleDir refuses a dir that is no bundle before the work, as the input it is: calibrating and
// distilling rewrite the bundle they read, and a file given for it was otherwise reported as an output
// that could not be written, though nothing had been read.
func checkBundleDir(dir string) error {
	const expected = "expected a bundle directory, as 'dysl model build --out' writes"
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("training: bundle %s does not exist: %s", dir, expected)
	case err != nil:
		return fmt.Errorf("training: bundle %s: %w", dir, err)
	case !info.IsDir():
		return fmt.Errorf("training: bundle %s is a file, not a bundle directory: %s", dir, expected)
	}
	if _, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("training: bundle %s holds no %s: %s", dir, bundle.ManifestFile, expected)
	}
	return nil
}

// BundleCalibration chooses a bundle's static layers from the per-layer similarity of its hidden
// states on held-out generated episodes, as `dysl calibrate` does.
type BundleCalibration struct {
	// Dir is the bundle; Weights its backbone's safetensors file when it was built from one.
	Dir, Weights string
	// Ratio of the layers kept static (the last layer always is).
	Ratio float64
	// Episodes generated from HeldOutSeedStart, of which every Every-th frame is used.
	Episodes, Every int
	// Tasks makes the episodes tabletop scenes (the zero value: the single task).
	Tasks scene.Tabletop
	// Plot, optional, receives the similarity profile as a PNG.
	Plot string
	// Log receives the profile and what was written; nil discards.
	Log io.Writer
	// Warn receives a warning when the frames are too few to choose from (MinCalibrationFrames); nil
	// discards.
	Warn io.Writer
}

// expertPhases is how many phases the expert's episodes pass through, approach to retreat.
const expertPhases = int(scene.Retreat-scene.Approach) + 1

// MinCalibrationFrames is the fewest frames a calibration chooses static layers from without a
// warning. The static layers are those whose output differs most from their input, averaged over the
// frames, and what a layer changes depends on what the frame shows: the gripper far from the block,
// closing on it, carrying it. An episode passes through the expert's nine phases; below two frames
// per phase the average stands on a few moments of the task, whichever the sampling hit, and the
// choice may not hold for the rest. (The defaults, 8 episodes every 4th frame, give about 245.)
const MinCalibrationFrames = 2 * expertPhases

// CalibrateBundle measures each layer's mean input/output cosine similarity, makes the least similar
// layers static and writes static_layers and static_profile into the manifest. When the static set
// changes, the old adapters (fitted for other jump targets) are replaced by identity adapters and closed
// controllers until a distillation trains them. It returns the static layers and the profile.
func CalibrateBundle(c BundleCalibration) (static []int, similarity []float64, err error) {
	out := c.Log
	if out == nil {
		out = io.Discard
	}
	if err := modelbuild.CheckStaticRatio(c.Ratio); err != nil {
		return nil, nil, err
	}
	if c.Episodes < 1 || c.Every < 1 {
		return nil, nil, fmt.Errorf("training: calibration episodes (%d) and every (%d, frames apart) must be >= 1", c.Episodes, c.Every)
	}
	if err := scene.CheckEpisodeCount("training: calibration episodes", c.Episodes); err != nil {
		return nil, nil, err
	}
	if err := checkBundleDir(c.Dir); err != nil {
		return nil, nil, err
	}
	if err := bundle.CheckReplaceable(c.Dir); err != nil {
		return nil, nil, fmt.Errorf("training: the calibrated bundle could not be written: %w", err)
	}
	m, a, model, err := OpenBundleModel(c.Dir, c.Weights)
	if err != nil {
		return nil, nil, err
	}
	frames, err := GenerateSceneEpisodes(a, Seeds(HeldOutSeedStart, c.Episodes), c.Tasks)
	if err != nil {
		return nil, nil, err
	}
	var indices []int
	shown := map[scene.Phase]bool{}
	for i := 0; i < len(frames.Frames); i += c.Every {
		indices = append(indices, i)
		shown[frames.Frames[i].Phase] = true
	}
	if len(indices) < MinCalibrationFrames && c.Warn != nil {
		fmt.Fprintf(c.Warn, "warning: calibration on %d frames (%d generated episodes, one frame in %d), which show %d of the expert's %d phases: "+
			"static layers chosen on so few may not hold for the rest of the task; %d or more (two per phase) are advised: more episodes, or a smaller every\n",
			len(indices), c.Episodes, c.Every, len(shown), expertPhases, MinCalibrationFrames)
	}
	if similarity, err = model.LayerSimilarity(frames, indices); err != nil {
		return nil, nil, err
	}
	static = modelbuild.ChooseStatic(similarity, c.Ratio)
	fmt.Fprintf(out, "calibration: %d frames from %d generated episodes\n", len(indices), c.Episodes)
	isStatic := map[int]bool{}
	for _, s := range static {
		isStatic[s] = true
	}
	for i, s := range similarity {
		mark := ""
		if isStatic[i] {
			mark = "  static"
		}
		fmt.Fprintf(out, "layer %2d  cos %.4f%s\n", i, s, mark)
	}
	changed := fmt.Sprint(static) != fmt.Sprint(m.StaticLayers)
	m.StaticLayers, m.StaticProfile = static, similarity
	if changed {
		fmt.Fprintf(out, "static layers changed to %v: adapters reset to identity, controllers closed; run dysl distill\n", static)
		// A distillation stopped part way trained adapters for the old dynamic layers: its checkpoint
		// goes with them.
		err = bundle.Replace(c.Dir, func(staging string) error {
			if err := writeSkipModules(staging, m, a, IdentitySkipModules(a, m.DynamicLayers()),
				"identity placeholders (static layers recalibrated; not trained yet)",
				"closed placeholders: constant skip_prob 0.05 (not trained yet)"); err != nil {
				return err
			}
			return removeDistillCheckpoint(staging)
		})
	} else {
		fmt.Fprintf(out, "static layers unchanged: %v\n", static)
		err = bundle.Replace(c.Dir, func(staging string) error { return bundle.Write(staging, m) })
	}
	if err != nil {
		return nil, nil, err
	}
	if c.Plot != "" {
		if err := PlotSimilarity(c.Plot, similarity, static); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "wrote %s\n", c.Plot)
	}
	return static, similarity, nil
}

// BundleDistillation trains a bundle's adapters and controllers against its frozen backbone and writes
// them into the bundle, as `dysl distill` does.
type BundleDistillation struct {
	// Dir is the bundle; Weights its backbone's safetensors file when it was built from one.
	Dir, Weights string
	// Config is the distillation; DistillBundle sets its Segments, AdapterStart, Checkpoint,
	// OnStep and (with Resume) Resume; its Log receives the progress lines and the summary.
	Config DistillConfig
	// IdentityAdapters starts stage 1 from A(h) = h instead of the bundle's own adapters.
	IdentityAdapters bool
	// Resume continues the distillation checkpointed in the bundle (same settings).
	Resume bool
	// Plot, optional, receives the loss curves as a PNG.
	Plot string
	// Progress, optional, receives a progress bar.
	Progress io.Writer
}

// DistillBundle runs the distillation, checkpointing into the bundle when Config.CheckpointEvery says
// so, writes the adapters and controllers as ONNX into it with provenance notes, and removes the
// checkpoint once done.
func DistillBundle(d BundleDistillation) (*DistillResult, error) {
	cfg := d.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	if err := checkBundleDir(d.Dir); err != nil {
		return nil, err
	}
	if err := bundle.CheckReplaceable(d.Dir); err != nil {
		return nil, fmt.Errorf("training: the distilled bundle could not be written: %w", err)
	}
	m, a, model, err := OpenBundleModel(d.Dir, d.Weights)
	if err != nil {
		return nil, err
	}
	dynamic := m.DynamicLayers()
	model.AddSkipModules(dynamic, cfg.Seed)
	if !d.IdentityAdapters {
		mods, err := ReadSkipModules(d.Dir, m, a)
		if err != nil {
			return nil, err
		}
		if err := model.SetSkipModules(SkipModules{Adapters: mods.Adapters}); err != nil {
			return nil, err
		}
		cfg.AdapterStart = "the bundle's adapters (" + m.Provenance.Adapters + ")"
	}
	cfg.Segments = m.Segments()
	if d.Resume {
		if cfg, err = ResumeDistill(d.Dir, m, model, cfg); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "resuming after stage %d step %d\n", cfg.Resume.Stage, cfg.Resume.Step)
	}
	cfg.Checkpoint = func(p DistillProgress) error {
		if err := WriteDistillCheckpoint(d.Dir, m, model, cfg, p); err != nil {
			return err
		}
		// Said as it lands, so that whoever wants the bundle at this point can copy it now.
		steps := cfg.Stage1Steps
		if p.Stage == 2 {
			steps = cfg.Stage2Steps
		}
		fmt.Fprintf(log, "checkpoint: stage %d step %d of %d written into %s\n", p.Stage, p.Step, steps, d.Dir)
		return nil
	}
	bar := newStepBar(d.Progress, cfg.Stage1Steps+cfg.Stage2Steps, "")
	cfg.OnStep = func(stage, _ int, loss float64) {
		_ = bar.Add(1)
		bar.Describe(fmt.Sprintf("stage %d loss %.4f", stage, loss))
	}
	res, err := Distill(model, cfg)
	finishStepBar(bar, d.Progress, err)
	if errors.Is(err, ErrInterrupted) {
		return nil, fmt.Errorf("%w: the checkpoint is in %s, and dysl distill --resume with the same flags continues the run", err, d.Dir)
	}
	if err != nil {
		return nil, err
	}
	mods, err := model.SkipModules(dynamic)
	if err != nil {
		return nil, err
	}
	adaptersNote, controllersNote := DistillNotes(cfg, res)
	if err := FinishDistill(d.Dir, m, a, mods, adaptersNote, controllersNote); err != nil {
		return nil, err
	}
	if d.Plot != "" {
		if err := PlotDistill(d.Plot, res); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "wrote adapters and controllers of layers %v into %s: %d trainable vs %d backbone parameters, %d+%d steps in %s\n",
		dynamic, d.Dir, res.Trainable, res.Backbone, len(res.Stage1Loss), len(res.Stage2Loss), res.Duration.Round(1e9))
	return res, nil
}
