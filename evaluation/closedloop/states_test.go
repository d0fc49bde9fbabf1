package closedloop

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// The states collected are those Visit returns, and ReadStates gives them back as they were.
func TestCollectStatesWritesWhatVisitCaptured(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)}
	path := filepath.Join(t.TempDir(), "states.json")
	v, err := CollectStates(cfg, []int64{1, 2}, path)
	require.NoError(t, err)
	want, episodes, err := Visit(cfg, []int64{1, 2})
	require.NoError(t, err)
	miss := 100 * min(episodes[0].Nearest[0], episodes[1].Nearest[0]) // the lower median of two
	gap := 100 * min(episodes[0].Gap[0], episodes[1].Gap[0])
	headway := 100 * min(episodes[0].Headway[0], episodes[1].Headway[0])
	var legs Legs
	legs.add(episodes[0].Legs)
	legs.add(episodes[1].Legs)
	require.Equal(t, Visited{States: 20, Episodes: 2, Completed: 0, Tasks: 2, MissCm: miss, GapCm: gap, HeadwayCm: headway, Legs: legs}, v)
	require.Equal(t, 2, v.Legs.Attempts[LegApproach])
	require.Greater(t, miss, 100*scene.GraspReach)
	require.NotZero(t, headway, "10 steps of 1 cm in x change the distance to the block")

	got, err := ReadStates(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestReadStatesNamesTheFileItCannotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "states.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"not": "an array"}`), 0o644))
	_, err := ReadStates(path)
	require.ErrorContains(t, err, path+": expected a JSON array of scene states")
}
