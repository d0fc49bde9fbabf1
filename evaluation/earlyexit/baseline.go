package earlyexit

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/training"
)

// The baseline's defaults: DeeR's exit interval, and the calibration frames taken from the training
// episodes.
const (
	DefaultEvery    = 2
	DefaultEpisodes = 8
	DefaultStride   = 4
)

// BaselineConfig is early exit as the open-loop and the closed-loop evaluations run it beside DySL:
// exits fitted on training episodes of the evaluated tasks (seeds from training.TrainSeedStart, never
// held-out ones), on the bundle's own backbone. Zero counts take the defaults.
type BaselineConfig struct {
	Model string // the bundle directory
	// Weights is the backbone's safetensors file; "" takes the bundle's provenance
	// (training.OpenBundleBackbone).
	Weights string
	Backend policy.BackendOpener
	// Tasks are the evaluated tasks the calibration episodes are drawn from; the zero Tabletop is the
	// single task.
	Tasks scene.Tabletop
	// Every is the exit interval in layers (DefaultEvery); Rank the exit adapters' rank (the bundle's
	// adapter rank); Episodes training episodes (DefaultEpisodes), every Stride-th frame
	// (DefaultStride), fit the exits.
	Every, Rank, Episodes, Stride int
	Log                           io.Writer
}

// Check refuses counts below zero and more episodes than can be generated; the names are the
// command-line flags'. Check what needs the bundle with CheckBundle.
func (c BaselineConfig) Check() error {
	var problems []string
	for _, n := range []struct {
		name  string
		value int
	}{{"exit-every", c.Every}, {"exit-rank", c.Rank}, {"exit-episodes", c.Episodes}, {"exit-stride", c.Stride}} {
		if n.value < 0 {
			problems = append(problems, fmt.Sprintf("%s (%d) must be >= 0 (0: the default)", n.name, n.value))
		}
	}
	if err := scene.CheckEpisodeCount("exit-episodes", c.Episodes); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("early exit: %s", strings.Join(problems, "; "))
	}
	return nil
}

// CheckBundle refuses an interval or a rank the bundle's backbone cannot take (checkShape), and
// Weights, when named, that are not the bundle's backbone or cannot be read (checkWeights), so that
// an evaluation can refuse them before it spends its first phase.
func (c BaselineConfig) CheckBundle(m *bundle.Manifest) error {
	if err := checkShape(c.every(), c.Rank, m.Dims.Layers, m.Dims.Hidden); err != nil {
		return err
	}
	if c.Weights == "" {
		return nil
	}
	_, _, _, err := training.OpenBundleBackbone(c.Model, c.Weights)
	return c.checkWeights(err)
}

// checkWeights is the error of a backbone that could not be opened (err) with Weights named: a file
// given on purpose that cannot be used is a mistake to report (a mistyped path, another bundle's
// backbone), not a baseline to leave out as when no file was given. Without Weights it is nil.
func (c BaselineConfig) checkWeights(err error) error {
	if err == nil || c.Weights == "" {
		return nil
	}
	return fmt.Errorf("early exit: --weights %s: %w", c.Weights, err)
}

// checkShape is what an exit interval and rank must be for a backbone of layers layers of width
// hidden (rank 0: the bundle's). Beyond these the baseline is not what it says: an interval of the
// whole backbone leaves one exit, after the last layer (the full model), and a rank above the hidden
// width is the width.
func checkShape(every, rank, layers, hidden int) error {
	if every >= layers {
		return fmt.Errorf("earlyexit: exit interval (%d layers) must be below the backbone's %d layers: one exit, after the last layer, is the full model", every, layers)
	}
	if rank > hidden {
		return fmt.Errorf("earlyexit: exit rank (%d) must be at most the hidden width (%d)", rank, hidden)
	}
	return nil
}

func (c BaselineConfig) every() int { return cmp.Or(c.Every, DefaultEvery) }

// CalibrationEpisodes is how many training episodes the exits are fitted on.
func (c BaselineConfig) CalibrationEpisodes() int { return cmp.Or(c.Episodes, DefaultEpisodes) }

// Description is the baseline's line in a report.
func (c BaselineConfig) Description() string {
	return fmt.Sprintf("DeeR-style: exit every %d layers when consecutive exits agree (L2)", c.every())
}

// Baseline is early exit fitted once, to be run at any threshold.
type Baseline struct {
	// Runner is nil when the bundle's backbone weights cannot be had; Unavailable then says why.
	Runner      *Runner
	Fit         *Fit
	Unavailable string
	close       func()
}

// Unavailable says why the baseline cannot run on its bundle (the backbone's weights cannot be had:
// a trained bundle without its safetensors file, none named), or "" when it can. Weights named
// are not judged here: one that cannot be used is an error (CheckBundle), not a row that says why.
func (c BaselineConfig) Unavailable() string {
	if c.Weights != "" {
		return ""
	}
	if _, _, _, err := training.OpenBundleBackbone(c.Model, ""); err != nil {
		return err.Error()
	}
	return ""
}

// OpenBaseline fits the exits on the calibration frames and opens their runner. A backbone that
// cannot be rebuilt without Weights (a trained bundle without its safetensors file) is not an
// error: the baseline is then unavailable, and the report says why. Weights named that cannot be
// used are (checkWeights). A done ctx stops the fit with an error that says so.
func OpenBaseline(ctx context.Context, c BaselineConfig) (*Baseline, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	episodes, stride := c.CalibrationEpisodes(), cmp.Or(c.Stride, DefaultStride)
	_, arch, weights, err := training.OpenBundleBackbone(c.Model, c.Weights)
	if err := c.checkWeights(err); err != nil {
		return nil, err
	}
	if err != nil {
		return &Baseline{Unavailable: err.Error(), close: func() {}}, nil
	}
	if err := checkShape(c.every(), c.Rank, arch.Layers, arch.Hidden); err != nil {
		return nil, err
	}
	if c.Log != nil {
		fmt.Fprintf(c.Log, "fitting early exits on %d training episodes (every %d-th frame)\n", episodes, stride)
	}
	calib, err := training.GenerateSceneEpisodes(arch, training.Seeds(training.TrainSeedStart, episodes), c.Tasks)
	if err != nil {
		return nil, err
	}
	var obs []modelbuild.Observation
	for i := 0; i < len(calib.Frames); i += stride {
		obs = append(obs, calib.Frames[i].Observation(arch))
	}
	r, fit, closeAll, err := OpenFitted(ctx, c.Model, FitConfig{Arch: arch, Weights: weights, Every: c.every(), Rank: c.Rank, Frames: obs}, c.Backend)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("early exit: stopped fitting the exits on %d frames of %d training episodes: %w", len(obs), episodes, err)
		}
		return nil, err
	}
	return &Baseline{Runner: r, Fit: fit, close: closeAll}, nil
}

// Close releases the runner and its fitted exit graphs.
func (b *Baseline) Close() { b.close() }
