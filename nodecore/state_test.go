package nodecore_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
)

// newStateFixture is newFixture on a bundle that reads two state values, ee_z and gripper.
func newStateFixture(t *testing.T, overrides map[string]paramserver.Value) *fixture {
	t.Helper()
	m := policytest.Manifest()
	m.State = &bundle.StateSpec{Names: []string{"ee_z", "gripper"}, Mean: []float64{0.1, 0}, Std: []float64{0.1, 1}}
	fake := policytest.NewFake(m)
	engine := &policy.Engine{Manifest: m, Backend: fake, Now: func() time.Time { return t0 }}
	require.NoError(t, engine.Initialize())
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", overrides, func() time.Time { return t0 })
	require.NoError(t, err)
	sink := &recorder{}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: sink})
	require.NoError(t, err)
	t.Cleanup(core.Close)
	require.True(t, core.NeedsState())
	return &fixture{fake: fake, engine: engine, params: srv, core: core, sink: sink}
}

func stampAt(at time.Duration) msgs.Time { return msgs.TimeFromGo(t0.Add(at)) }

// The state is picked out of a JointState-shaped message by name: extra joints are ignored and the
// order is the message's, not the model's.
func TestStateIsPickedByNameAndReachesTheEngine(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.SetInstruction("pick")
	names := []string{"shoulder", "gripper", "elbow", "ee_z"}
	positions := []float64{9, 1, 9, 0.3}
	f.core.OfferState(stampAt(0), names, positions)
	positions[1], names[3] = 42, "reused" // the Core copied what it needed
	f.serve(20*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, 1}, f.fake.LastState(), 1e-6, "(0.3-0.1)/0.1 and (1-0)/1")
}

// A frame is inferred with the state of its own instant, as training pairs them: the reading stamped
// nearest the frame, not a newer one that arrived while the frame waited. Readings without a stamp
// leave only the newest to take.
func TestStateNearestTheFrameIsTaken(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.SetInstruction("pick")
	for _, r := range []struct { // the nearest neither first nor last
		ms int
		z  float64
	}{{-30, 0.2}, {0, 0.3}, {60, 0.9}} {
		f.core.OfferState(stampAt(time.Duration(r.ms)*time.Millisecond), []string{"ee_z", "gripper"}, []float64{r.z, 1})
	}
	f.core.OfferFrame(frame(5*time.Millisecond, "cam", 100)) // stamped 5 ms after the reading at 0
	f.core.Step(t0.Add(70 * time.Millisecond))
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, 1}, f.fake.LastState(), 1e-6, "ee_z 0.3, of the reading at 0 ms")
	// A reading stamped at the frame's very instant is taken, not an older one after it.
	f.core.OfferFrame(frame(0, "cam", 100))
	f.core.Step(t0.Add(80 * time.Millisecond))
	require.Len(t, f.sink.chunks, 2)
	require.InDeltaSlice(t, []float32{2, 1}, f.fake.LastState(), 1e-6, "ee_z 0.3, of the reading at 0 ms exactly")

	g := newStateFixture(t, nil) // a publisher that leaves its stamps zero: newest, then refused as of unknown age
	g.core.SetInstruction("pick")
	g.core.OfferState(msgs.Time{}, []string{"ee_z", "gripper"}, []float64{0.2, 1})
	g.core.OfferState(msgs.Time{}, []string{"ee_z", "gripper"}, []float64{0.4, 1})
	g.serve(0, "cam")
	require.Empty(t, g.sink.chunks)
	require.Contains(t, eventsOf[nodecore.EventNoState](g.sink)[0].Problem, "robot state for ee_z, gripper on joint_states has header.stamp 0")

	// An unstamped frame (max_image_age 0, a camera that does not stamp) is taken as of the node's
	// clock: the state nearest it, the newest, within state_max_age of it.
	u := newStateFixture(t, map[string]paramserver.Value{nodecore.ParamMaxImageAge: paramserver.Double(0)})
	u.core.SetInstruction("pick")
	u.core.OfferState(stampAt(0), []string{"ee_z", "gripper"}, []float64{0.2, 1})
	u.core.OfferState(stampAt(10*time.Millisecond), []string{"ee_z", "gripper"}, []float64{0.3, 1})
	unstamped := frame(0, "cam", 100)
	unstamped.Header.Stamp = msgs.Time{}
	u.core.OfferFrame(unstamped)
	u.core.Step(t0.Add(100 * time.Millisecond))
	require.Empty(t, eventsOf[nodecore.EventNoState](u.sink))
	require.Len(t, u.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, 1}, u.fake.LastState(), 1e-6, "ee_z 0.3, the newest")
	// The joint_states publisher died an hour ago: the arm is not driven on its last word.
	u.core.OfferFrame(unstamped)
	u.core.Step(t0.Add(time.Hour))
	require.Len(t, u.sink.chunks, 1)
	require.Contains(t, eventsOf[nodecore.EventNoState](u.sink)[0].Problem, "is 59m59.99s away from the frame's time")

	// With the check off, an unstamped frame takes the newest reading, whatever the clocks say.
	off := newStateFixture(t, map[string]paramserver.Value{
		nodecore.ParamMaxImageAge: paramserver.Double(0), nodecore.ParamStateMaxAge: paramserver.Double(0)})
	off.core.SetInstruction("pick")
	off.core.OfferState(stampAt(time.Hour), []string{"ee_z", "gripper"}, []float64{0.2, 1})
	off.core.OfferState(stampAt(time.Hour+10*time.Millisecond), []string{"ee_z", "gripper"}, []float64{0.3, 1})
	off.core.OfferFrame(unstamped)
	off.core.Step(t0)
	require.Len(t, off.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, 1}, off.fake.LastState(), 1e-6, "ee_z 0.3, the newest, though stamped ahead of the clock")
}

// A robot may publish its arm and gripper separately: each message refreshes its own names.
func TestStateValuesFromSeparateMessagesCombine(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.SetInstruction("pick")
	f.core.OfferState(stampAt(0), []string{"ee_z"}, []float64{0.2})
	f.serve(10*time.Millisecond, "cam")
	require.Empty(t, f.sink.chunks, "gripper is still missing")
	f.core.OfferState(stampAt(20*time.Millisecond), []string{"ee_z", "gripper"}, []float64{0.3})
	f.serve(30*time.Millisecond, "cam")
	require.Empty(t, f.sink.chunks, "a name without a position is not a value")
	f.core.OfferState(stampAt(40*time.Millisecond), []string{"gripper"}, []float64{-1})
	f.serve(50*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, -1}, f.fake.LastState(), 1e-6, "ee_z from the second message, gripper from the third")
}

// Without a state, with a value missing, or with a state too far from the frame, the frame is not
// inferred: counted, noticed, and named in the diagnostics; the next good frame is served.
func TestFramesWithoutAUsableStateAreNotActedOn(t *testing.T) {
	f := newStateFixture(t, nil) // state_max_age 0.5 s
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")

	f.serve(0, "cam")
	require.Empty(t, f.sink.chunks)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Equal(t, "1 frames not acted on: no robot state received for ee_z, gripper on joint_states", st.Message)
	require.Equal(t, "1", value(t, st, "frames without robot state"))

	f.core.OfferState(stampAt(time.Second), []string{"gripper", "wrist"}, []float64{0, 0})
	f.serve(time.Second, "cam")
	require.Empty(t, f.sink.chunks)
	st = f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0]
	require.Equal(t, "1 frames not acted on: no robot state received for ee_z on joint_states", st.Message)

	f.core.OfferState(stampAt(1100*time.Millisecond), []string{"ee_z"}, []float64{0.1})
	f.serve(1700*time.Millisecond, "cam") // gripper 0.7 s and ee_z 0.6 s before the frame
	f.serve(300*time.Millisecond, "cam")  // ee_z 0.8 s after the frame: the state is not the camera's robot either
	require.Empty(t, f.sink.chunks)
	events := eventsOf[nodecore.EventNoState](f.sink)
	require.Len(t, events, 4)
	require.Equal(t, stampAt(1700*time.Millisecond), events[2].Stamp)
	require.Equal(t, "robot state for ee_z, gripper is 700ms away from the frame's time (its stamp; the node's clock for a frame not stamped), state_max_age is 500ms", events[2].Problem)
	require.Equal(t, "robot state for ee_z, gripper is 800ms away from the frame's time (its stamp; the node's clock for a frame not stamped), state_max_age is 500ms", events[3].Problem)
	st = f.core.Diagnostics(t0.Add(3 * time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "2 frames not acted on: robot state for ee_z, gripper is 800ms away")
	require.Equal(t, "4", value(t, st, "frames without robot state"))
	require.Equal(t, "2", value(t, st, "robot states received"))

	f.core.OfferState(stampAt(1600*time.Millisecond), []string{"gripper", "ee_z"}, []float64{1, 0.2})
	f.serve(1700*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	st = f.core.Diagnostics(t0.Add(4 * time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticOK, st.Level)
}

// state_max_age is a live parameter, validated by its range; 0 turns the check off.
func TestStateMaxAgeParameter(t *testing.T) {
	f := newStateFixture(t, map[string]paramserver.Value{nodecore.ParamStateMaxAge: paramserver.Double(2)})
	require.Equal(t, 2*time.Second, f.core.Settings().Live.StateMaxAge)
	f.core.SetInstruction("pick")
	f.core.OfferState(stampAt(0), []string{"ee_z", "gripper"}, []float64{0.1, 0})
	f.serve(2*time.Second, "cam")
	require.Len(t, f.sink.chunks, 1, "a state exactly state_max_age from the frame is used")

	res := f.params.Set(paramserver.Parameter{Name: nodecore.ParamStateMaxAge, Value: paramserver.Double(-1)})
	require.False(t, res[0].Successful)
	require.Equal(t, 2*time.Second, f.core.Settings().Live.StateMaxAge, "a refused value changes nothing")

	res = f.params.Set(paramserver.Parameter{Name: nodecore.ParamStateMaxAge, Value: paramserver.Double(0)})
	require.True(t, res[0].Successful)
	f.serve(time.Hour, "cam")
	require.Len(t, f.sink.chunks, 2, "0 disables the check")
}

// A non-finite joint position reaches the engine, which refuses it naming the value: a bad frame, and
// the next frame with a good state is served.
func TestNonFiniteStateIsABadFrame(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	f.core.OfferState(stampAt(0), []string{"ee_z", "gripper"}, []float64{math.NaN(), 0})
	f.serve(10*time.Millisecond, "cam")
	require.Empty(t, f.sink.chunks)
	bad := eventsOf[nodecore.EventBadFrame](f.sink)
	require.Len(t, bad, 1)
	require.ErrorContains(t, bad[0].Err, `observation state: "ee_z" is NaN`)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "1", value(t, st, "bad frames"))

	f.core.OfferState(stampAt(20*time.Millisecond), []string{"ee_z"}, []float64{0.1})
	f.serve(30*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
}

// A bundle without a state block ignores states entirely: frames are served without one, and the
// diagnostics do not mention it.
func TestStatelessBundleIgnoresStates(t *testing.T) {
	f := newFixture(t, nil, nil)
	require.False(t, f.core.NeedsState())
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	f.core.OfferState(stampAt(0), []string{"ee_z"}, []float64{math.NaN()})
	f.serve(0, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.Nil(t, f.fake.LastState())
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	_, ok := st.Value("frames without robot state")
	require.False(t, ok)
}

// The edge hands serialized JointState messages over as it takes them; one that does not decode is a
// decode error on its topic, and the next one is used.
func TestSerializedStatesAreDecodedAndBadOnesCounted(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	raw, err := msgs.Encode(nil, &msgs.JointState{Header: msgs.Header{Stamp: stampAt(0)},
		Name: []string{"wrist", "gripper", "ee_z"}, Position: []float64{3, 1, 0.2}, Velocity: []float64{0, 0, 0}})
	require.NoError(t, err)
	require.False(t, f.core.OfferSerializedState(nodecore.StateTopic, raw[:len(raw)-3]))
	f.serve(10*time.Millisecond, "cam")
	require.Empty(t, f.sink.chunks)
	require.True(t, f.core.OfferSerializedState(nodecore.StateTopic, raw))
	f.serve(20*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{1, 1}, f.fake.LastState(), 1e-6)
	decode := eventsOf[nodecore.EventDecodeError](f.sink)
	require.Len(t, decode, 1)
	require.Equal(t, "joint_states", decode[0].Topic)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "1", value(t, st, "decode errors"))
}

// A JointState whose positions cannot be matched to its names (fewer positions than names, a name
// given twice) is refused as a malformed message, named, not taken for a state that never came.
func TestMalformedJointStatesAreRefusedAndNamed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		names     []string
		positions []float64
		want      string
	}{
		{"fewer positions", []string{"wrist", "gripper", "ee_z"}, []float64{3, 1}, "3 names and 2 positions: a JointState has as many positions as names, or none"},
		{"a name twice", []string{"gripper", "ee_z", "gripper"}, []float64{1, 0.2, 0}, `joint name "gripper" given twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStateFixture(t, nil)
			raw, err := msgs.Encode(nil, &msgs.JointState{Header: msgs.Header{Stamp: stampAt(0)}, Name: tc.names, Position: tc.positions})
			require.NoError(t, err)
			require.False(t, f.core.OfferSerializedState(nodecore.StateTopic, raw))
			decode := eventsOf[nodecore.EventDecodeError](f.sink)
			require.Len(t, decode, 1)
			require.EqualError(t, decode[0].Err, tc.want)
		})
	}
	// Positions left empty are allowed (a JointState of velocities only): nothing is taken from it.
	f := newStateFixture(t, nil)
	raw, err := msgs.Encode(nil, &msgs.JointState{Header: msgs.Header{Stamp: stampAt(0)}, Name: []string{"gripper"}, Velocity: []float64{0}})
	require.NoError(t, err)
	require.True(t, f.core.OfferSerializedState(nodecore.StateTopic, raw))
	require.Empty(t, eventsOf[nodecore.EventDecodeError](f.sink))
}

// A JointState with more entries in an array than any robot has joints is refused as a decode error
// naming the field, its size and the limit, before its names are checked or looked up: a million
// names cost 56 MB for the check of names given twice alone. At the limit, a message is taken.
func TestJointStatesOfTooManyJointsAreRefused(t *testing.T) {
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("joint_%d", i)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		js   msgs.JointState
		want string
	}{
		{"names", msgs.JointState{Name: names(nodecore.MaxJoints + 1)}, "field name holds 4097 entries, at most 4096 allowed: a robot has tens of joints"},
		{"velocities", msgs.JointState{Name: []string{"ee_z"}, Position: []float64{0.2}, Velocity: make([]float64, 100_000)},
			"field velocity holds 100000 entries, at most 4096 allowed: a robot has tens of joints"},
		{"efforts", msgs.JointState{Effort: make([]float64, nodecore.MaxJoints+1)}, "field effort holds 4097 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStateFixture(t, nil)
			tc.js.Header.Stamp = stampAt(0)
			raw, err := msgs.Encode(nil, &tc.js)
			require.NoError(t, err)
			require.False(t, f.core.OfferSerializedState(nodecore.StateTopic, raw))
			decode := eventsOf[nodecore.EventDecodeError](f.sink)
			require.Len(t, decode, 1)
			require.Equal(t, "joint_states", decode[0].Topic)
			require.ErrorContains(t, decode[0].Err, tc.want)
			require.Contains(t, decode[0].String(), "message on joint_states dropped: field ")
		})
	}
	f := newStateFixture(t, nil)
	f.core.SetInstruction("pick")
	at := names(nodecore.MaxJoints)
	at[7], at[9] = "ee_z", "gripper"
	positions := make([]float64, len(at))
	positions[7], positions[9] = 0.3, 1
	raw, err := msgs.Encode(nil, &msgs.JointState{Header: msgs.Header{Stamp: stampAt(0)}, Name: at, Position: positions})
	require.NoError(t, err)
	require.True(t, f.core.OfferSerializedState(nodecore.StateTopic, raw))
	f.serve(10*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{2, 1}, f.fake.LastState(), 1e-6)
}
