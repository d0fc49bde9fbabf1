package closedloop

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// stateChecker is the scripted expert on a bundle that reads the robot state: at every prefix it
// compares the state the engine hands the backend with the normalized state of the world the served
// frame was captured from.
type stateChecker struct {
	*policytest.Fake
	expert   *expertPolicy
	spec     bundle.StateSpec
	prefixes int
	wrong    []string
}

func (b *stateChecker) RunHead(out []float32) error { b.expert.head(out); return nil }

func (b *stateChecker) RunPrefix(image []float32, tokens []int64, state []float32) error {
	b.prefixes++
	world := b.expert.seen.RobotState()
	for i, name := range b.spec.Names {
		v := world[indexOf(scene.RobotStateNames, name)]
		want := float32((v - b.spec.Mean[i]) / b.spec.Std[i])
		if i >= len(state) || state[i] != want {
			b.wrong = append(b.wrong, name)
		}
	}
	return b.Fake.RunPrefix(image, tokens, state)
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// The robot state reaches the policy with its frame, through the node core, picked by name in the
// bundle's order, and the expert still completes its tasks through it.
func TestTheCapturedWorldsStateReachesThePolicy(t *testing.T) {
	m := testManifest()
	// Another order than the scene's and a subset: the node core picks by name.
	m.State = &bundle.StateSpec{Names: []string{"gripper", "ee_z", "ee_x"}, Mean: []float64{0, 0.15, 0}, Std: []float64{1, 0.1, 0.15}}
	expert := &expertPolicy{}
	backend := &stateChecker{Fake: policytest.NewFake(m), expert: expert, spec: *m.State}
	e := &policy.Engine{Manifest: m, Backend: backend}
	require.NoError(t, e.Initialize())
	var served []policy.Observation
	var servedWorlds []scene.State
	h, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig(), Scene: scene.DefaultConfig(),
		Latency: FixedLatency(0),
		OnFrame: func(s scene.State) { expert.seen = s },
		OnServe: func(o policy.Observation) {
			served, servedWorlds = append(served, o), append(servedWorlds, expert.seen)
		}})
	require.NoError(t, err)
	ep, err := h.Run(7)
	require.NoError(t, err)
	require.Equal(t, ep.Tasks, ep.Completed)
	require.Equal(t, ep.Inferences, backend.prefixes)
	require.Empty(t, backend.wrong, "every prefix got the state of its frame's world")

	require.Len(t, served, ep.Inferences)
	for i, o := range served {
		w := servedWorlds[i]
		require.Equal(t, []float64{w.Gripper, w.EE.Z, w.EE.X}, o.State, "observation %d carries the raw state in the bundle's order", i)
	}
	// The arm moved, so a state frozen at the start would have been caught above.
	require.NotEqual(t, served[0].State, served[len(served)-1].State)
}

// The arm's last gripper command reaches a policy that reads the robot state in the policy's own
// convention, the node's gripper_open and gripper_closed: the scene's -1 and +1 as +1 and -1 for the
// inverted one, and the expert written in it completes its task through the node core.
func TestTheRobotStatesGripperReachesThePolicyInItsConvention(t *testing.T) {
	m := testManifest()
	m.State = &bundle.StateSpec{Names: []string{"ee_z", "gripper"}, Mean: []float64{0.15, 0}, Std: []float64{0.1, 1}}
	inverted := gripper.Convention{Open: 1, Closed: -1}
	expert := &expertPolicy{}
	e := &policy.Engine{Manifest: m, Backend: &scripted{Fake: policytest.NewFake(m), head: conventionHead(expert, inverted)}}
	require.NoError(t, e.Initialize())
	var served []float64
	var worlds []float64
	h, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig(), Scene: scene.DefaultConfig(), Latency: FixedLatency(0), Gripper: inverted,
		OnFrame: func(s scene.State) { expert.seen = s },
		OnServe: func(o policy.Observation) {
			served, worlds = append(served, o.State[1]), append(worlds, expert.seen.Gripper)
		}})
	require.NoError(t, err)
	ep, err := h.Run(7)
	require.NoError(t, err)
	require.Equal(t, ep.Tasks, ep.Completed)
	require.Contains(t, worlds, scene.GripperClosed, "the arm closed on the block")
	for i, w := range worlds {
		require.Equal(t, -w, served[i], "observation %d: the scene's gripper %v in the inverted convention", i, w)
	}
}

func TestABundleReadingAStateTheSceneLacksIsRefused(t *testing.T) {
	m := testManifest()
	m.State = &bundle.StateSpec{Names: []string{"ee_z", "wrist_torque"}, Mean: []float64{0, 0}, Std: []float64{1, 1}}
	e := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.NoError(t, e.Initialize())
	_, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig()})
	require.ErrorContains(t, err, `reads the robot state "wrist_torque", the scene gives only [ee_x ee_y ee_z ee_yaw gripper]`)
}
