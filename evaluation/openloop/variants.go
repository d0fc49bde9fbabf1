package openloop

import (
	"context"
	"fmt"
	"math"
	"slices"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// unavailable is a row that could not be run, with the reason.
func unavailable(name, desc, why string) *variant {
	return &variant{row: &Row{Variant: name, Description: desc, Note: why}}
}

// oneStageVariant opens the --one-stage bundle under the DySL configuration on its own backend. It
// checks that the bundle has the main bundle's layout and backbone (its single graph gives the main
// full model's chunk on a probe frame), since its errors are measured against the main full model.
func oneStageVariant(cfg Config, m *bundle.Manifest, probe *frame, fullChunk func(policy.Observation) ([][]float32, error)) (*variant, func(), error) {
	const name, desc = "one_stage", "DySL with adapters and controllers distilled in one stage from scratch"
	if cfg.OneStage == "" {
		return unavailable(name, desc, "not run: no --one-stage bundle (distill a copy of the bundle with --stage1-steps 0)"), func() {}, nil
	}
	b, err := bundle.Load(cfg.OneStage)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluate: --one-stage: %w", err)
	}
	if b.Manifest.Dims != m.Dims || !slices.Equal(b.Manifest.StaticLayers, m.StaticLayers) {
		return nil, nil, fmt.Errorf("evaluate: --one-stage bundle %s has dims %+v and static layers %v, the main bundle %+v and %v",
			cfg.OneStage, b.Manifest.Dims, b.Manifest.StaticLayers, m.Dims, m.StaticLayers)
	}
	e, err := policy.Open(cfg.OneStage, cfg.Backend, *cfg.DySL)
	if err != nil {
		return nil, nil, err
	}
	e.Now = cfg.Now
	v := engineVariant(&Row{Variant: name, Description: desc, Available: true}, e)
	v.row.Note = "provenance: " + b.Manifest.Provenance.Adapters
	if len(v.row.Note) > 160 {
		v.row.Note = v.row.Note[:160] + "..."
	}
	mine, err := e.InferSingleGraph(probe.obs)
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	theirs, err := fullChunk(probe.obs)
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	var diff float64
	for k := range mine {
		for d := range mine[k] {
			diff = math.Max(diff, math.Abs(float64(mine[k][d]-theirs[k][d])))
		}
	}
	if diff > 1e-4 {
		v.row.Note = fmt.Sprintf("WARNING: its backbone differs from the main bundle's (full chunks differ by up to %.3g); ", diff) + v.row.Note
	}
	return v, func() { e.Close() }, nil
}

// earlyExitVariant fits the exit adapters on training episodes, opens the runner and, unless a
// threshold is given, picks η so that the mean executed layers on the match frames are closest to
// executed.
func earlyExitVariant(ctx context.Context, cfg Config, m *bundle.Manifest, match []*frame, executed float64) (*variant, func(), error) {
	const name = "early_exit"
	baseline := cfg.earlyExit()
	desc := baseline.Description()
	exit, err := earlyexit.OpenBaseline(ctx, baseline)
	if err != nil {
		return nil, nil, err
	}
	if exit.Runner == nil {
		return unavailable(name, desc, "not run: "+exit.Unavailable), func() {}, nil
	}
	r, fit, closeAll := exit.Runner, exit.Fit, exit.Close
	r.Engine.Now = cfg.Now
	L := m.Dims.Layers
	v := &variant{row: &Row{Variant: name, Description: desc, Available: true}, reset: func() {}}
	v.row.Note = fit.Describe()
	if cfg.ExitThreshold != nil {
		r.Threshold = *cfg.ExitThreshold
		v.row.Param = fmt.Sprintf("eta=%.4g (given)", r.Threshold)
	} else {
		obs := make([]policy.Observation, len(match))
		for i, f := range match {
			obs[i] = f.obs
		}
		depth, err := r.MatchLayers(ctx, obs, executed)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("evaluate: early_exit, matching eta on %d frames: %w", len(match), err)
		}
		v.row.Param = fmt.Sprintf("eta=%.4g", r.Threshold)
		v.row.Note = fmt.Sprintf("eta chosen on %d frames for %.2f layers (target %.2f); ", len(match), depth, executed) + v.row.Note
	}
	v.infer = func(f *frame) (outcome, error) {
		res, err := r.Infer(f.obs)
		if err != nil {
			return outcome{}, err
		}
		return outcome{chunk: res.Chunk, executed: res.LayersExecuted, skip: L - res.LayersExecuted}, nil
	}
	return v, closeAll, nil
}
