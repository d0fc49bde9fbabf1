package closedloop

import (
	"context"

	"dysl_vla/policy"
	"dysl_vla/skipping"
)

// ServedForMatching plays the first phase of an evaluation of model, with the journal at path
// (none for ""), and returns the frames the baselines' thresholds are then matched on.
func ServedForMatching(ctx context.Context, model string, opener policy.BackendOpener, dysl skipping.Config, suite Suite, seeds []int64, matchFrames int, journal string) ([]policy.Observation, error) {
	b, err := openBench(model, opener, dysl)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if suite.journal, err = openJournal(journal, "evaluation", "", func() (map[string]any, error) { return map[string]any{"model": model}, nil }); err != nil {
		return nil, err
	}
	defer suite.journal.Close()
	_, _, served, err := b.firstPhase(ctx, suite, seeds, matchFrames)
	if err != nil {
		return nil, err
	}
	var frames []policy.Observation
	_, err = served.match("frames", func(f []policy.Observation) (float64, float64, error) {
		frames = f
		return 0, 0, nil
	})
	return frames, err
}
