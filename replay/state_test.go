package replay

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/bag/samplebag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// prefixStates is the Fake backend keeping the state of every prefix the engine ran.
type prefixStates struct {
	*policytest.Fake
	states [][]float32
}

func (b *prefixStates) RunPrefix(image []float32, tokens []int64, state []float32) error {
	b.states = append(b.states, append([]float32(nil), state...))
	return b.Fake.RunPrefix(image, tokens, state)
}

// stateManifest reads two of the scene's robot state values, in another order than the bag's.
func stateManifest() *bundle.Manifest {
	m := policytest.Manifest()
	m.State = &bundle.StateSpec{Names: []string{"gripper", "ee_z"}, Mean: []float64{0, 0.15}, Std: []float64{1, 0.1}}
	return m
}

func runStateReplay(t *testing.T, bagDir string, overrides map[string]paramserver.Value, cfg Config) (*prefixStates, Result, error) {
	t.Helper()
	m := stateManifest()
	backend := &prefixStates{Fake: policytest.NewFake(m)}
	sk := skipping.DefaultConfig()
	e := &policy.Engine{Manifest: m, Backend: backend, Skipping: &sk}
	require.NoError(t, e.Initialize())
	srv, _, err := nodecore.NewParamServer(NodeName, overrides, nil)
	require.NoError(t, err)
	cfg.Engine, cfg.Params, cfg.BagPath, cfg.OutDir = e, srv, bagDir, t.TempDir()
	res, err := Run(cfg)
	return backend, res, err
}

// wantStates reads the bag as the node would: each image is inferred with the last JointState before
// it, the bundle's names picked out and normalized.
func wantStates(t *testing.T, bagDir string) [][]float32 {
	t.Helper()
	r, err := bag.Open(bagDir)
	require.NoError(t, err)
	defer r.Close()
	spec := stateManifest().State
	var last msgs.JointState
	var want [][]float32
	for m, err := range r.Messages(samplebag.TopicJointStates, samplebag.TopicImage) {
		require.NoError(t, err)
		if m.Topic == samplebag.TopicJointStates {
			require.NoError(t, msgs.Decode(m.Data, &last))
			continue
		}
		row := make([]float32, len(spec.Names))
		for i, name := range spec.Names {
			for j, n := range last.Name {
				if n == name {
					row[i] = float32((last.Position[j] - spec.Mean[i]) / spec.Std[i])
				}
			}
		}
		want = append(want, row)
	}
	require.NotEmpty(t, want)
	return want
}

// A bag recorded with joint_states replays into a state bundle: every frame is acted on with the
// state recorded just before it, and the full-model comparison gets the same state.
func TestReplayFeedsTheRecordedJointStates(t *testing.T) {
	bagDir := filepath.Join(t.TempDir(), "bag")
	_, err := samplebag.Generate(t.Context(), bagDir, samplebag.Options{Episodes: 1, Seed: 3})
	require.NoError(t, err)
	want := wantStates(t, bagDir)

	backend, res, err := runStateReplay(t, bagDir, nil, Config{CompareFull: true})
	require.NoError(t, err)
	require.Equal(t, len(want), res.Summary.Frames, "every frame acted on: %v", res.Summary.SkippedBy)
	require.True(t, res.Summary.Compared, "the full model ran with the state too")
	require.Len(t, backend.states, len(want))
	for i := range want {
		require.InDeltaSlice(t, want[i], backend.states[i], 1e-6, "frame %d", i)
	}
	require.NotEqual(t, backend.states[0], backend.states[len(want)-1], "the arm moved during the episode")
}

// A state further from its frame than state_max_age is not used: every frame is skipped, for that
// reason.
func TestReplaySkipsFramesWhoseStateIsTooOld(t *testing.T) {
	bagDir := filepath.Join(t.TempDir(), "bag")
	_, err := samplebag.Generate(t.Context(), bagDir, samplebag.Options{Episodes: 1, Seed: 3})
	require.NoError(t, err)
	frames := len(wantStates(t, bagDir))
	// The sample bag's states are 1 µs older than their frames.
	_, res, err := runStateReplay(t, bagDir, map[string]paramserver.Value{nodecore.ParamStateMaxAge: paramserver.Double(0.5e-6)}, Config{})
	require.NoError(t, err)
	require.Zero(t, res.Summary.Frames)
	require.Equal(t, frames, res.Summary.SkippedBy[SkipNoState])
}

// A bag without the state topic cannot feed a state bundle: refused up front, naming the topic.
func TestReplayRefusesABagWithoutTheStateTopic(t *testing.T) {
	bagDir := filepath.Join(t.TempDir(), "bag")
	_, err := samplebag.Generate(t.Context(), bagDir, samplebag.Options{Episodes: 1, Seed: 3})
	require.NoError(t, err)
	_, _, err = runStateReplay(t, bagDir, nil, Config{StateTopic: "/arm/joint_states"})
	require.ErrorContains(t, err, "has no topic /arm/joint_states")
	require.ErrorContains(t, err, "the bundle reads the robot state [gripper ee_z] from it")
}
