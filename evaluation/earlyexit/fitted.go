package earlyexit

import (
	"context"
	"fmt"
	"os"

	"dysl_vla/policy"
)

// OpenFitted fits the exit adapters (FitExits), writes them to a temporary directory and opens a
// runner on the bundle in dir with them (Open). close releases the runner and removes the directory.
// A done ctx stops the fit (FitExits).
func OpenFitted(ctx context.Context, dir string, cfg FitConfig, openBackend policy.BackendOpener) (r *Runner, fit *Fit, close func(), err error) {
	fit, err = FitExits(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "dysl-early-exits-")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	files, err := fit.Write(tmp)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	if r, err = Open(dir, files, openBackend, 0); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return r, fit, func() { r.Close(); cleanup() }, nil
}

// Describe says where the exits sit and how well each explains the final layer, for a report's note.
func (f *Fit) Describe() string {
	quality := ""
	for _, k := range f.Exits[:len(f.Exits)-1] {
		quality += fmt.Sprintf(" %d:%.2f/%.2f", k, f.Unexplained[k], f.ChunkMAE[k])
	}
	return fmt.Sprintf("exits after layers %v; closed-form rank-%d exit adapters on %d training frames, held-out unexplained/chunk MAE per exit:%s",
		f.Exits, f.Arch.AdapterRank, f.Frames, quality)
}

// MatchLayers sets the threshold so that the mean layers executed on obs come closest to layers
// (MatchThreshold on their profiles) and returns that mean. A done ctx stops it between frames, with
// ctx's cause.
func (r *Runner) MatchLayers(ctx context.Context, obs []policy.Observation, layers float64) (float64, error) {
	profiles := make([][]float64, len(obs))
	for i, o := range obs {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		var err error
		if profiles[i], err = r.Profile(o); err != nil {
			return 0, err
		}
	}
	var depth float64
	r.Threshold, depth = MatchThreshold(profiles, r.Exits, layers)
	return depth, nil
}
