package nodecore_test

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
)

// Frames and an instruction in; chunks, skip stats and diagnostics out, with the image's stamp and
// frame, consecutive sequence numbers, the bundle's action names and the skip summary.
func TestFramesAndInstructionInChunksStatsAndDiagnosticsOut(t *testing.T) {
	// The fake's adapters do not reproduce its layers, so the first skipped pass after the warm-up's
	// full ones looks like a continuity drop: verification would re-run it and the allow points move
	// to the static layers. With both off, the rows show the controllers' skipping alone.
	f := newFixture(t, nil, map[string]paramserver.Value{
		nodecore.ParamVerification: paramserver.Bool(false), nodecore.ParamPreSkipPrediction: paramserver.Bool(false)})
	f.core.SetInstruction("pick up the red cube")
	f.warmUp()
	// The first report opens the first period: no rate yet.
	require.Equal(t, "n/a", value(t, f.core.Diagnostics(t0).Status[0], "inference rate (Hz)"))
	for i := range 3 {
		f.serve(time.Duration(i)*100*time.Millisecond, "camera_optical")
	}

	require.Len(t, f.sink.chunks, 3)
	require.Len(t, f.sink.stats, 3)
	for i, c := range f.sink.chunks {
		t.Run(c.Header.FrameID, func(t *testing.T) {
			stamp := frame(time.Duration(i)*100*time.Millisecond, "", 0).Header.Stamp
			require.Equal(t, stamp, c.Header.Stamp)
			require.Equal(t, "camera_optical", c.Header.FrameID)
			require.Equal(t, uint64(f.warmUpFrames()+i), c.Sequence)
			require.Equal(t, 100*time.Millisecond, c.StepDt.Go())
			require.Equal(t, uint32(2), c.Steps)
			require.Equal(t, uint32(2), c.ActionDim)
			require.Equal(t, []string{"x", "gripper"}, c.ActionNames)
			require.Len(t, c.Actions, 4)
			// Past the warm-up, every controller skips and the allow points are at the front: only
			// the two static layers run, six of eight are skipped.
			require.Equal(t, uint32(2), c.LayersExecuted)
			require.Equal(t, uint32(8), c.LayersTotal)
			require.InDelta(t, 0.75, c.SkipRatio, 1e-9)
			require.False(t, c.VerificationFired)
			require.Equal(t, "dysl", c.Strategy)

			s := f.sink.stats[i]
			require.Equal(t, c.Header, s.Header)
			require.Equal(t, c.Sequence, s.Sequence)
			require.Equal(t, uint32(2), s.LayersExecuted)
			require.Equal(t, uint32(6), s.LayersSkipped)
			require.Equal(t, uint32(2), s.AdaptersRun)
			require.Len(t, s.AllowPoints, 2)
		})
	}

	d := f.core.Diagnostics(t0.Add(500 * time.Millisecond))
	require.Len(t, d.Status, 1)
	st := d.Status[0]
	require.Equal(t, msgs.DiagnosticOK, st.Level)
	require.Equal(t, "dysl_vla_node: inference", st.Name)
	require.Equal(t, "none", st.HardwareID)
	require.Equal(t, "fake-bundle", value(t, st, "model"))
	require.Equal(t, "cpu", value(t, st, "provider"))
	require.Equal(t, "3", value(t, st, "inferences in period"))
	require.Equal(t, "6.00", value(t, st, "inference rate (Hz)"), "3 inferences in half a second")
	require.Equal(t, "0.750", value(t, st, "skip ratio"))
	require.Equal(t, "2.00", value(t, st, "mean executed layers"))
	require.Equal(t, "0.000", value(t, st, "verification rate"))
	require.Equal(t, "0", value(t, st, "dropped frames (superseded)"))
	require.Equal(t, "yes: the model reads its first 8 tokens (dims.instruction_tokens)", value(t, st, "instruction truncated"))
	require.Equal(t, d, f.sink.diags[len(f.sink.diags)-1])
}

// An instruction longer than the model's token input is served, and the diagnostics say how much of
// it the model reads.
func TestDiagnosticsSayWhenTheInstructionIsTruncated(t *testing.T) {
	f := newFixture(t, nil, nil)
	tokens := f.engine.Manifest.Dims.InstructionTokens
	f.core.Diagnostics(t0)
	f.core.SetInstruction(strings.Repeat("p", tokens))
	f.serve(0, "cam")
	require.Equal(t, "no", value(t, f.core.Diagnostics(t0.Add(time.Second)).Status[0], "instruction truncated"))
	f.core.SetInstruction(strings.Repeat("p", tokens+1))
	f.serve(time.Second, "cam")
	require.Len(t, f.sink.chunks, 2)
	require.Equal(t, fmt.Sprintf("yes: the model reads its first %d tokens (dims.instruction_tokens)", tokens),
		value(t, f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0], "instruction truncated"))
}

// An image without a frame_id gets the frame_id parameter.
func TestFrameIDParameterFillsAnEmptyFrame(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{nodecore.ParamFrameID: paramserver.String("wrist_camera")})
	f.core.SetInstruction("pick")
	f.serve(0, "")
	require.Len(t, f.sink.chunks, 1)
	require.Equal(t, "wrist_camera", f.sink.chunks[0].Header.FrameID)
}

// A frame_id longer than any TF frame name, which every chunk and skip statistics message would carry,
// is refused: from an image, offered decoded or serialized, as a decode error on the image topic that
// names the field, its size and the limit, nothing published; as the frame_id parameter, as rclcpp
// refuses a set its callback rejects, at start-up too. At the limit, it goes out.
func TestFrameIDsLongerThanAFrameNameAreRefused(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	long, atLimit := strings.Repeat("f", nodecore.MaxFrameID+1), strings.Repeat("f", nodecore.MaxFrameID)
	f.serve(0, long)
	raw, err := msgs.Encode(nil, &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0), FrameID: long},
		Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)})
	require.NoError(t, err)
	require.False(t, f.core.OfferSerializedFrame("image", raw))
	require.False(t, f.core.Step(t0.Add(10*time.Millisecond)))
	require.Empty(t, f.sink.chunks)
	decode := eventsOf[nodecore.EventDecodeError](f.sink)
	require.Len(t, decode, 2)
	for _, ev := range decode {
		require.Equal(t, "message on image dropped: field header.frame_id holds 257 bytes, at most 256 allowed: a frame_id is a TF frame name", ev.String())
	}
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "2", value(t, st, "decode errors"))
	require.Equal(t, "0", value(t, st, "frames received"))
	f.serve(time.Second, atLimit)
	require.Len(t, f.sink.chunks, 1)
	require.Equal(t, atLimit, f.sink.chunks[0].Header.FrameID)

	res := f.params.Set(paramserver.Parameter{Name: nodecore.ParamFrameID, Value: paramserver.String(long)})
	require.False(t, res[0].Successful)
	require.Equal(t, "parameter frame_id holds 257 bytes, at most 256 allowed: a frame_id is a TF frame name", res[0].Reason)
	require.Empty(t, f.core.Settings().Live.FrameID)
	res = f.params.Set(paramserver.Parameter{Name: nodecore.ParamFrameID, Value: paramserver.String(atLimit)})
	require.True(t, res[0].Successful, res[0].Reason)
	desc, err := f.params.Describe(nodecore.ParamFrameID)
	require.NoError(t, err)
	require.Equal(t, "at most 256 bytes", desc[0].AdditionalConstraints, "what ros2 param describe shows")
	_, _, err = nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{nodecore.ParamFrameID: paramserver.String(long)}, nil)
	require.ErrorContains(t, err, "parameter frame_id holds 257 bytes")
}

// gripper_lead changes only the published gripper column, from the next inference on.
func TestGripperLeadParameterAdvancesThePublishedGripper(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{nodecore.ParamStrategy: paramserver.String("full")})
	gi := f.engine.Manifest.Action.GripperIndex
	require.Equal(t, 1, gi)
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	asPredicted := f.sink.chunks[0].Actions
	require.NotEqual(t, asPredicted[gi], asPredicted[2+gi], "the fixture's two actions command the gripper differently")

	res := f.params.SetAtomically(paramserver.Parameter{Name: nodecore.ParamGripperLead, Value: paramserver.Integer(1)})
	require.True(t, res.Successful, res.Reason)
	f.serve(100*time.Millisecond, "cam")
	led := f.sink.chunks[1].Actions
	require.Equal(t, []float32{asPredicted[0], asPredicted[2+gi], asPredicted[2], asPredicted[2+gi]}, led)

	res = f.params.SetAtomically(paramserver.Parameter{Name: nodecore.ParamGripperLead, Value: paramserver.Integer(-1)})
	require.False(t, res.Successful)
	require.Contains(t, res.Reason, "gripper_lead")
	require.Equal(t, 1, f.core.Settings().Live.GripperLead)
}

// scriptedGripper is the fixture's backend with a chosen gripper column: its first chunk opens then
// closes, every later one closes then opens.
type scriptedGripper struct {
	*policytest.Fake
	chunks int
}

func (s *scriptedGripper) RunHead(out []float32) error {
	if err := s.Fake.RunHead(out); err != nil {
		return err
	}
	out[1], out[3] = 1, -1 // (x, gripper) per action
	if s.chunks == 0 {
		out[1], out[3] = -1, 1
	}
	s.chunks++
	return nil
}

// gripper_min_hold keeps the gripper closed on the published chunks once it closed, for the time set
// live; a new instruction starts a new history.
func TestGripperMinHoldParameterHoldsThePublishedGripper(t *testing.T) {
	var backend *scriptedGripper
	f := newFixture(t, func(fake *policytest.Fake) policy.Backend {
		backend = &scriptedGripper{Fake: fake}
		return backend
	}, map[string]paramserver.Value{nodecore.ParamStrategy: paramserver.String("full")})
	gripper := func(i int) []float32 {
		a := f.sink.chunks[i].Actions
		return []float32{a[1], a[3]}
	}
	res := f.params.SetAtomically(paramserver.Parameter{Name: nodecore.ParamGripperMinHold, Value: paramserver.Double(1)})
	require.True(t, res.Successful, res.Reason)
	require.Equal(t, time.Second, f.core.Settings().Live.GripperMinHold)
	f.core.SetInstruction("pick")
	for i := range 3 {
		f.serve(time.Duration(i)*100*time.Millisecond, "cam")
	}
	require.Equal(t, []float32{-1, 1}, gripper(0), "the first chunk as predicted")
	// Chunk 1 (at 100 ms) closes: the first change, at once. Its open at 200 ms, and chunk 2's at
	// 300 ms, come within a second of it.
	require.Equal(t, []float32{1, 1}, gripper(1))
	require.Equal(t, []float32{1, 1}, gripper(2))

	f.core.SetInstruction("place")
	f.serve(300*time.Millisecond, "cam")
	require.Equal(t, []float32{1, -1}, gripper(3), "a new instruction: no history to hold")

	res = f.params.SetAtomically(paramserver.Parameter{Name: nodecore.ParamGripperMinHold, Value: paramserver.Double(11)})
	require.False(t, res.Successful)
	require.Contains(t, res.Reason, "gripper_min_hold")
}

// unstampedGripper is the node with the scripted gripper, strategy full, a camera that does not stamp
// its frames (max_image_age 0) and gripper_min_hold 1 s; serve offers an unstamped frame, steps at now
// and returns the published chunk's gripper column.
func unstampedGripper(t *testing.T) (f *fixture, serve func(now time.Time) []float32) {
	f = newFixture(t, func(fake *policytest.Fake) policy.Backend {
		return &scriptedGripper{Fake: fake}
	}, map[string]paramserver.Value{
		nodecore.ParamStrategy:       paramserver.String("full"),
		nodecore.ParamMaxImageAge:    paramserver.Double(0),
		nodecore.ParamGripperMinHold: paramserver.Double(1),
	})
	f.core.SetInstruction("pick")
	return f, func(now time.Time) []float32 {
		img := frame(0, "cam", 100)
		img.Header.Stamp = msgs.Time{}
		f.core.OfferFrame(img)
		f.core.Step(now)
		a := f.sink.chunks[len(f.sink.chunks)-1].Actions
		return []float32{a[1], a[3]}
	}
}

// A camera that does not stamp its frames still gets gripper_min_hold: the hold follows the node's
// clock for them, where every stamp 0 would leave no action executed.
func TestGripperMinHoldHoldsUnstampedFrames(t *testing.T) {
	_, serve := unstampedGripper(t)
	for i, want := range [][]float32{{-1, 1}, {1, 1}, {1, 1}} {
		require.Equal(t, want, serve(t0.Add(time.Duration(i)*100*time.Millisecond)), "chunk %d", i)
	}
}

// Frames stamped more than a second before the last one served (a bag played again with --loop, a
// simulator reset) start a new episode, as a new instruction does; stamps a little out of order do not.
func TestTimeGoingBackStartsANewEpisode(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{
		nodecore.ParamExecutedActions:  paramserver.Integer(1),
		nodecore.ParamContinuityWindow: paramserver.Integer(3),
	})
	f.core.SetInstruction("pick")
	for _, ms := range []int{0, 100, 200, 150} {
		f.serve(time.Duration(ms)*time.Millisecond, "cam")
	}
	require.Equal(t, []bool{false, false, true, true}, continuityDefined(f.sink.stats))
	require.Empty(t, eventsOf[nodecore.EventTimeWentBack](f.sink), "50 ms out of order is the same episode")

	f.serve(-10*time.Second, "cam")
	require.False(t, f.sink.stats[4].ContinuityDefined, "history cleared as time went back")
	ev := eventsOf[nodecore.EventTimeWentBack](f.sink)
	require.Len(t, ev, 1)
	require.Equal(t, stampAt(150*time.Millisecond), ev[0].Last)
	require.Contains(t, ev[0].String(), "is 10.15s before the last one served")
	f.serve(-9900*time.Millisecond, "cam")
	require.Len(t, eventsOf[nodecore.EventTimeWentBack](f.sink), 1, "the new episode goes on")
	f.core.Diagnostics(t0)
	require.Equal(t, "1", value(t, f.sink.diags[len(f.sink.diags)-1].Status[0], "episodes restarted (time went back)"))
}

// A camera that stamps some frames and not others (a bag played without --clock, max_image_age 0)
// has two time lines, its stamps and the node's clock: a frame is held to the last one of its own
// kind, so that switching between them is not time going back.
func TestStampedAndUnstampedFramesKeepTheirOwnTimeLines(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{nodecore.ParamMaxImageAge: paramserver.Double(0)})
	f.core.SetInstruction("pick")
	for i := range 6 {
		img := frame(time.Duration(i)*100*time.Millisecond, "cam", 100)
		if i%2 == 1 {
			img.Header.Stamp = msgs.Time{}
		}
		f.core.OfferFrame(img)
		f.core.Step(t0.Add(time.Hour + time.Duration(i)*100*time.Millisecond))
	}
	require.Len(t, f.sink.chunks, 6)
	require.Empty(t, eventsOf[nodecore.EventTimeWentBack](f.sink))
}

// Unstamped frames follow the node's clock: the clock set back (a /clock restarted, an NTP step)
// starts a new episode for them too, and the gripper's hold of the old time line goes with it.
func TestClockGoingBackStartsANewEpisodeForUnstampedFrames(t *testing.T) {
	f, serveAt := unstampedGripper(t)
	for i := range 3 {
		serveAt(t0.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	require.Equal(t, []float32{1, -1}, serveAt(t0.Add(-time.Minute)), "a new episode: the close of the old time line is not held")
	require.Len(t, eventsOf[nodecore.EventTimeWentBack](f.sink), 1)
}

// The instruction in force arriving again (a publisher repeating it) is not a new episode: DySL goes
// on skipping and nothing is logged; a new text, or the same after a withdrawal, starts one, and so
// does RestartEpisode (the node activated again).
func TestRepeatedInstructionKeepsTheEpisode(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	f.warmUp()
	for i := range 3 {
		f.core.SetInstruction("pick")
		f.serve(time.Duration(i)*100*time.Millisecond, "cam")
	}
	for i, st := range f.sink.stats {
		require.Equal(t, uint32(6), st.LayersSkipped, "frame %d: still skipping", i)
	}
	require.Empty(t, eventsOf[nodecore.EventInstruction](f.sink), "a repeat is not logged")

	fresh := func(name string, change func()) {
		t.Helper()
		change()
		f.serve(time.Second, "cam")
		require.Zero(t, f.sink.stats[len(f.sink.stats)-1].LayersSkipped, "%s: a new episode runs every layer first", name)
		f.warmUp()
	}
	fresh("new text", func() { f.core.SetInstruction("place") })
	fresh("the same after a withdrawal", func() { f.core.SetInstruction(""); f.core.SetInstruction("place") })
	fresh("restart", f.core.RestartEpisode)
}

// A parameter set applies at the next inference, through the engine.
func TestLiveParameterChangeAppliesAtTheNextInference(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	f.warmUp()
	f.core.Diagnostics(t0)
	f.serve(0, "cam")
	require.Equal(t, uint32(6), f.sink.stats[0].LayersSkipped)
	require.True(t, f.sink.stats[0].VerificationFired, "the fake's adapters look like a continuity drop")

	res := f.params.SetAtomically(
		paramserver.Parameter{Name: nodecore.ParamStrategy, Value: paramserver.String("full")},
		paramserver.Parameter{Name: nodecore.ParamMaxImageAge, Value: paramserver.Double(2)})
	require.True(t, res.Successful, res.Reason)
	require.Equal(t, "full", f.core.Settings().Live.Skipping.Strategy.String())
	require.Equal(t, 2*time.Second, f.core.Settings().Live.MaxImageAge)

	f.serve(100*time.Millisecond, "cam")
	require.Len(t, f.sink.stats, 2)
	require.Equal(t, uint32(0), f.sink.stats[1].LayersSkipped)
	require.Equal(t, uint32(8), f.sink.stats[1].LayersExecuted)
	require.Equal(t, "full", f.sink.chunks[1].Strategy)
	require.False(t, f.sink.stats[1].VerificationFired, "nothing skipped, nothing to verify")
	require.Empty(t, eventsOf[nodecore.EventParametersNotApplied](f.sink), "applied: no line says otherwise")
	require.Equal(t, "0.500", value(t, f.core.Diagnostics(t0.Add(time.Second)).Status[0], "verification rate"),
		"one of the period's two inferences verified")
}

// A set_parameters of several parameters (what ros2 param load sends) changes the live settings once,
// after the whole request: the worker never sees a part of it. Each parameter is still applied, and
// answered, on its own. Before, the core swapped its settings after each parameter, so while the
// request's second parameter was checked the worker already ran with the first.
func TestMultiParameterSetChangesTheLiveSettingsOnce(t *testing.T) {
	f := newFixture(t, nil, nil)
	var liveDuringRequest []nodecore.LiveSettings
	f.params.AddOnSetCallback(func(params []paramserver.Parameter) paramserver.SetResult {
		liveDuringRequest = append(liveDuringRequest, f.core.Settings().Live)
		return paramserver.SetResult{Successful: true}
	})
	before := f.core.Settings().Live

	results := f.params.Set(
		paramserver.Parameter{Name: nodecore.ParamControllerThreshold, Value: paramserver.Double(0.7)},
		paramserver.Parameter{Name: nodecore.ParamEtaVerify, Value: paramserver.Double(0)}, // refused: out of range
		paramserver.Parameter{Name: nodecore.ParamEtaMove, Value: paramserver.Double(0.2)},
		paramserver.Parameter{Name: nodecore.ParamMaxImageAge, Value: paramserver.Double(2)})

	require.True(t, results[0].Successful, results[0].Reason)
	require.False(t, results[1].Successful)
	require.True(t, results[2].Successful, results[2].Reason)
	require.True(t, results[3].Successful, results[3].Reason)
	require.Len(t, liveDuringRequest, 3, "the on-set callbacks ran for each parameter in range")
	for i, live := range liveDuringRequest {
		require.Equal(t, before, live, "the live settings changed during the request, before parameter %d", i)
	}
	live := f.core.Settings().Live
	require.Equal(t, 0.7, live.Skipping.ControllerThreshold)
	require.Equal(t, 0.2, live.Skipping.EtaMove)
	require.Equal(t, before.Skipping.EtaVerify, live.Skipping.EtaVerify)
	require.Equal(t, 2*time.Second, live.MaxImageAge)
}

// Out-of-range, wrongly typed, read-only and invalid combinations are refused with rclcpp's (or the
// skipping package's) reason, and nothing changes.
func TestInvalidParameterSetIsRejectedAndNothingChanges(t *testing.T) {
	cases := []struct {
		name   string
		params []paramserver.Parameter
		reason string
	}{
		{"threshold out of range", []paramserver.Parameter{{Name: nodecore.ParamControllerThreshold, Value: paramserver.Double(1.5)}},
			"Parameter {controller_threshold} doesn't comply with floating point range. Range: 0 to 1."},
		{"window of the wrong type", []paramserver.Parameter{{Name: nodecore.ParamContinuityWindow, Value: paramserver.Double(5)}},
			"Wrong parameter type, parameter {continuity_window} is of type {integer}, setting it to {double} is not allowed."},
		{"unknown strategy", []paramserver.Parameter{{Name: nodecore.ParamStrategy, Value: paramserver.String("fastest")}},
			"parameter strategy: "},
		{"eta_move zero, below its advertised range", []paramserver.Parameter{{Name: nodecore.ParamEtaMove, Value: paramserver.Double(0)}},
			"Parameter {eta_move} doesn't comply with floating point range. Range: 1e-06 to 10."},
		{"executed_actions beyond the chunk", []paramserver.Parameter{{Name: nodecore.ParamExecutedActions, Value: paramserver.Integer(3)}},
			"executed_actions (3) must be at most the bundle's chunk of 2 actions (0 = whole chunk)"},
		{"gripper_lead of the whole chunk", []paramserver.Parameter{{Name: nodecore.ParamGripperLead, Value: paramserver.Integer(2)}},
			"gripper_lead (2) must be below the bundle's chunk of 2 actions: 1 already takes every action's gripper command from the last"},
		{"read-only model_dir", []paramserver.Parameter{{Name: nodecore.ParamModelDir, Value: paramserver.String("/elsewhere")}},
			"parameter 'model_dir' cannot be set because it is read-only"},
		{"valid threshold with invalid eta_verify", []paramserver.Parameter{
			{Name: nodecore.ParamControllerThreshold, Value: paramserver.Double(0.9)},
			{Name: nodecore.ParamEtaVerify, Value: paramserver.Double(0)}},
			"Parameter {eta_verify} doesn't comply with floating point range. Range: 1e-06 to 10."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			before := f.core.Settings()
			engineBefore := f.engine.SkippingConfig()
			res := f.params.SetAtomically(tc.params...)
			require.False(t, res.Successful)
			require.Contains(t, res.Reason, tc.reason)
			require.Equal(t, before, f.core.Settings())
			require.Equal(t, engineBefore, f.engine.SkippingConfig())

			f.core.SetInstruction("pick")
			f.warmUp()
			f.serve(0, "cam")
			require.Equal(t, uint32(6), f.sink.stats[0].LayersSkipped, "the old configuration still runs")
		})
	}
}

// Before any Core exists (a managed node not yet configured, or after cleanup), the parameter server
// itself refuses a combination the node could not run, as rclcpp's on-set callback registered in the
// constructor does: only the limits of a bundle not loaded yet wait for configure.
func TestParameterServerRefusesInvalidSettingsWithoutACore(t *testing.T) {
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	res := srv.Set(paramserver.Parameter{Name: nodecore.ParamStrategy, Value: paramserver.String("bogus")})
	require.False(t, res[0].Successful)
	require.Contains(t, res[0].Reason, "parameter strategy: ")
	v, _ := srv.Snapshot().Value(nodecore.ParamStrategy)
	require.Equal(t, "dysl", v.StringValue)

	res = srv.Set(paramserver.Parameter{Name: nodecore.ParamExecutedActions, Value: paramserver.Integer(5)})
	require.True(t, res[0].Successful, "the chunk it must fit is the bundle's, checked at configure")
}

// A frame older than max_image_age when inference would start is never acted on; nor is one with a
// zero stamp. One exactly max_image_age old is.
func TestStaleFramesAreDropped(t *testing.T) {
	f := newFixture(t, nil, nil) // max_image_age 0.5 s
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")

	f.core.OfferFrame(frame(0, "cam", 100))
	require.True(t, f.core.Step(t0.Add(600*time.Millisecond)))
	zero := frame(0, "cam", 100)
	zero.Header.Stamp = msgs.Time{}
	f.core.OfferFrame(zero)
	require.True(t, f.core.Step(t0))
	require.Empty(t, f.sink.chunks)
	stale := eventsOf[nodecore.EventFrameStale](f.sink)
	require.Len(t, stale, 2)
	require.Equal(t, 600*time.Millisecond, stale[0].Age)
	// An unstamped frame is said to be one, not decades old with advice about clocks.
	require.Equal(t, "frame dropped: its header.stamp is 0, so its age is unknown (max_image_age is 500ms): the camera driver does not stamp its images",
		stale[1].String())

	f.serve(time.Second, "cam") // a fresh frame is served again
	require.Len(t, f.sink.chunks, 1)
	st := f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "2 frames dropped as stale, the last with header.stamp 0: the camera driver does not stamp its images")
	require.Equal(t, "2", value(t, st, "dropped frames (stale)"))

	f.core.OfferFrame(frame(time.Second, "cam", 100))
	require.True(t, f.core.Step(t0.Add(1600*time.Millisecond)))
	st = f.core.Diagnostics(t0.Add(3 * time.Second)).Status[0]
	require.Contains(t, st.Message, "1 frames older than max_image_age (500ms) dropped, the last 600ms old")

	// Exactly max_image_age old is not older than it: served.
	f.core.OfferFrame(frame(3*time.Second, "cam", 100))
	require.True(t, f.core.Step(t0.Add(3500*time.Millisecond)))
	require.Len(t, f.sink.chunks, 2, "a frame exactly max_image_age old is acted on")
}

// A frame stamped further ahead of the clock than max_image_age (a camera clock 100 s ahead) is
// dropped too: its chunk would be meant for a time that has not come. Within max_image_age ahead
// (small clock skew) it is served.
func TestFramesFromTheFutureAreDropped(t *testing.T) {
	f := newFixture(t, nil, nil) // max_image_age 0.5 s
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	f.core.OfferFrame(frame(100*time.Second, "cam", 100))
	require.True(t, f.core.Step(t0))
	require.Empty(t, f.sink.chunks)
	ahead := eventsOf[nodecore.EventFrameStale](f.sink)
	require.Len(t, ahead, 1)
	require.Equal(t, -100*time.Second, ahead[0].Age)
	require.Equal(t, "frame 1700000100.000000000 dropped: stamped 1m40s ahead of the node's clock, max_image_age is 500ms", ahead[0].String())
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Equal(t, "1 frames dropped as older than max_image_age (500ms) or stamped further ahead of the node's clock, the last 1m40s ahead: the camera's clock runs ahead of the node's; synchronize them (chrony, PTP)", st.Message)

	f.core.OfferFrame(frame(1500*time.Millisecond, "cam", 100))
	require.True(t, f.core.Step(t0.Add(time.Second)), "exactly max_image_age ahead: within it")
	require.Len(t, f.sink.chunks, 1)
}

// No action before an instruction, and none after an empty one withdrew it.
func TestNoActionWithoutInstruction(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.serve(0, "cam")
	require.Empty(t, f.sink.chunks)
	require.Len(t, eventsOf[nodecore.EventNoInstruction](f.sink), 1)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Equal(t, "waiting for an instruction on instruction", st.Message)
	require.Equal(t, "1", value(t, st, "frames without instruction"))

	f.core.SetInstruction("pick")
	f.serve(100*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	f.core.SetInstruction("")
	f.serve(200*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	noInstruction := eventsOf[nodecore.EventNoInstruction](f.sink)
	require.Len(t, noInstruction, 2)
	require.False(t, noInstruction[0].Withdrawn)
	require.True(t, noInstruction[1].Withdrawn, "received, then withdrawn: not 'no instruction received yet'")
	require.Equal(t, "frame 1700000000.200000000 not acted on: an empty instruction withdrew the last one", noInstruction[1].String())
	st = f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0]
	require.Equal(t, "waiting for an instruction on instruction (an empty one withdrew the last)", st.Message)
	require.Equal(t, "2", value(t, st, "frames without instruction"), "counted since start-up")

	// White space alone says nothing to the policy: it withdraws the instruction as an empty one does.
	f.core.SetInstruction("pick")
	f.core.SetInstruction(" \t\n")
	f.serve(300*time.Millisecond, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.Len(t, eventsOf[nodecore.EventNoInstruction](f.sink), 3)
}

// An instruction has no length limit; the log line and the diagnostics show its start and its size.
func TestLongInstructionsAreShownCut(t *testing.T) {
	f := newFixture(t, nil, nil)
	long := strings.Repeat("pick the red block ", 6000) // 114,000 bytes
	f.core.SetInstruction(long)
	ev := eventsOf[nodecore.EventInstruction](f.sink)
	require.Len(t, ev, 1)
	require.Equal(t, long, ev[0].Text, "the core keeps it whole")
	line := ev[0].String()
	require.Less(t, len(line), 300)
	require.True(t, strings.HasPrefix(line, `new instruction "pick the red block pick`), line)
	require.True(t, strings.HasSuffix(line, `"... (114000 bytes): episode reset`), line)
	st := f.core.Diagnostics(t0).Status[0]
	require.Less(t, len(value(t, st, "instruction")), 300)
	require.Contains(t, value(t, st, "instruction"), "(114000 bytes)")

	// 200 bytes are shown whole. A cut falls between characters, not inside one (a 3-byte euro sign
	// spans bytes 198 to 200); an instruction of bytes that start no character (not UTF-8) is cut to
	// nothing rather than failing the log line.
	for _, c := range []struct{ text, line string }{
		{strings.Repeat("p", 200), `new instruction "` + strings.Repeat("p", 200) + `": episode reset`},
		{strings.Repeat("€", 100), `new instruction "` + strings.Repeat("€", 66) + `"... (300 bytes): episode reset`},
		{strings.Repeat("\x80", 300), `new instruction ""... (300 bytes): episode reset`},
	} {
		f.core.SetInstruction(c.text)
		ev := eventsOf[nodecore.EventInstruction](f.sink)
		require.Equal(t, c.line, ev[len(ev)-1].String())
	}
}

// A new instruction starts a new episode: the continuity history is empty again.
func TestNewInstructionResetsTheEpisode(t *testing.T) {
	// One executed action per chunk and a window of 3: continuity is defined from the third inference.
	f := newFixture(t, nil, map[string]paramserver.Value{
		nodecore.ParamExecutedActions:  paramserver.Integer(1),
		nodecore.ParamContinuityWindow: paramserver.Integer(3),
	})
	f.core.SetInstruction("pick")
	for i := range 3 {
		f.serve(time.Duration(i)*100*time.Millisecond, "cam")
	}
	require.Equal(t, []bool{false, false, true}, continuityDefined(f.sink.stats))

	f.core.SetInstruction("place")
	f.serve(300*time.Millisecond, "cam")
	require.False(t, f.sink.stats[3].ContinuityDefined, "history cleared by the new instruction")
	require.True(t, math.IsNaN(f.sink.stats[3].Continuity))
	require.Equal(t, uint64(3), f.sink.chunks[3].Sequence, "chunk numbering continues across episodes")
}

func continuityDefined(stats []*msgs.SkipStats) []bool {
	var out []bool
	for _, s := range stats {
		out = append(out, s.ContinuityDefined)
	}
	return out
}

// NaN from the model is never published: ERROR diagnostics, and the next frame is served.
func TestNaNActionsAreNeverPublished(t *testing.T) {
	f := newFixture(t, func(fake *policytest.Fake) policy.Backend {
		return policytest.NewFaulty(fake, policytest.Fault{Op: policytest.OpHead, NaN: true, Times: 1})
	}, nil)
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	require.Empty(t, f.sink.chunks)
	require.Empty(t, f.sink.stats)
	// Counted where a user looks for it: a non-finite chunk, not a failed inference.
	ev := eventsOf[nodecore.EventNonFiniteAction](f.sink)
	require.Len(t, ev, 1)
	require.True(t, math.IsNaN(float64(ev[0].Value)))
	require.Equal(t, f.engine.Manifest.Action.Names[ev[0].Dim], ev[0].Name)
	require.Empty(t, eventsOf[nodecore.EventInferenceFailed](f.sink))
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticError, st.Level)
	require.Contains(t, st.Message, "NaN")
	require.Equal(t, "1", value(t, st, "non-finite chunks"))
	require.Equal(t, "0", value(t, st, "failed inferences"))

	f.serve(time.Second, "cam")
	require.Len(t, f.sink.chunks, 1)
	require.Equal(t, uint64(0), f.sink.chunks[0].Sequence)
	require.Equal(t, msgs.DiagnosticOK, f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0].Level)
}

// A chunk that overflows to Inf when de-normalized (a huge action std) is refused too.
func TestInfiniteActionsAfterDenormalizationAreNeverPublished(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.engine.Manifest.Action.Std = []float64{1e39, 1}
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	require.Empty(t, f.sink.chunks)
	ev := eventsOf[nodecore.EventNonFiniteAction](f.sink)
	require.Len(t, ev, 1)
	require.True(t, math.IsInf(float64(ev[0].Value), 1))
	require.Equal(t, msgs.DiagnosticError, f.core.Diagnostics(t0.Add(time.Second)).Status[0].Level)
}

// A failed inference is reported and the next frame served.
func TestFailedInferenceIsReportedAndTheNextFrameServed(t *testing.T) {
	f := newFixture(t, func(fake *policytest.Fake) policy.Backend {
		return policytest.NewFaulty(fake, policytest.Fault{Op: policytest.OpLayer, Layer: 3, Err: policytest.ErrInjected, Times: 1})
	}, nil)
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	failed := eventsOf[nodecore.EventInferenceFailed](f.sink)
	require.Len(t, failed, 1)
	require.ErrorIs(t, failed[0].Err, policytest.ErrInjected)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticError, st.Level)
	require.Equal(t, "1", value(t, st, "failed inferences"))

	f.serve(time.Second, "cam")
	require.Len(t, f.sink.chunks, 1)
}

// A frame the engine cannot use is a WARN, not an ERROR, and the node keeps serving.
func TestBadFrameIsDroppedWithAWarning(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	bad := frame(0, "cam", 100)
	bad.Encoding = "16UC1"
	f.core.OfferFrame(bad)
	f.core.Step(t0)
	require.Len(t, eventsOf[nodecore.EventBadFrame](f.sink), 1)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "16UC1")
	f.serve(time.Second, "cam")
	require.Len(t, f.sink.chunks, 1)
}

// A frame the model can never read is said before what waiting would cure: an unstamped yuv422 frame
// with no instruction yet is a bad frame, not a stale one or one waiting for an instruction, so the
// camera's encoding is what the user reads first.
func TestUnreadableEncodingIsSaidBeforeStaleOrNoInstruction(t *testing.T) {
	f := newFixture(t, nil, nil)
	bad := frame(0, "cam", 100)
	bad.Encoding = "yuv422"
	bad.Header.Stamp = msgs.Time{}
	f.core.OfferFrame(bad)
	require.True(t, f.core.Step(t0))
	refused := eventsOf[nodecore.EventBadFrame](f.sink)
	require.Len(t, refused, 1)
	require.ErrorContains(t, refused[0].Err, `unsupported encoding "yuv422"`)
	require.Empty(t, eventsOf[nodecore.EventFrameStale](f.sink))
	require.Empty(t, eventsOf[nodecore.EventNoInstruction](f.sink))

	// With an instruction in force, the diagnostics say the encoding, not that frames are unstamped.
	f.core.SetInstruction("pick")
	f.core.OfferFrame(bad)
	require.True(t, f.core.Step(t0.Add(100*time.Millisecond)))
	require.Empty(t, eventsOf[nodecore.EventFrameStale](f.sink))
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, `unsupported encoding "yuv422"`)
}

// Frames faster than inference: the latest is served, the older ones dropped and counted.
func TestBurstKeepsTheLatestFrame(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	for i := range 5 {
		f.core.OfferFrame(frame(time.Duration(i)*10*time.Millisecond, "cam", 100))
	}
	require.True(t, f.core.Step(t0.Add(50*time.Millisecond)))
	require.False(t, f.core.Step(t0.Add(60*time.Millisecond)), "the slot is empty")
	require.Len(t, f.sink.chunks, 1)
	require.Equal(t, frame(40*time.Millisecond, "", 0).Header.Stamp, f.sink.chunks[0].Header.Stamp)
	require.Len(t, eventsOf[nodecore.EventFrameSuperseded](f.sink), 4)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "4", value(t, st, "dropped frames (superseded)"))
	require.Equal(t, "5", value(t, st, "frames received"))
}

// Replay needs the same inputs at the same clock to give the same outputs, diagnostics included.
func TestSameInputsGiveIdenticalOutputs(t *testing.T) {
	run := func() *recorder {
		f := newFixture(t, nil, map[string]paramserver.Value{nodecore.ParamExecutedActions: paramserver.Integer(1)})
		f.core.Diagnostics(t0)
		f.core.SetInstruction("pick")
		for i := range 12 {
			f.core.OfferFrame(frame(time.Duration(i)*50*time.Millisecond, "cam", byte(40+i*13)))
			if i%3 != 1 { // some frames are superseded
				f.core.Step(t0.Add(time.Duration(i)*50*time.Millisecond + 5*time.Millisecond))
			}
			if i == 6 {
				f.core.SetInstruction("place")
				f.core.Diagnostics(t0.Add(400 * time.Millisecond))
			}
		}
		f.core.Diagnostics(t0.Add(time.Second))
		return f.sink
	}
	a, b := run(), run()
	require.NotEmpty(t, a.chunks)
	require.Equal(t, a.chunks, b.chunks)
	require.Equal(t, len(a.stats), len(b.stats))
	for i := range a.stats {
		// NaN continuity compares unequal as a float; compare the renderings.
		require.Equal(t, fmtAny(a.stats[i]), fmtAny(b.stats[i]))
	}
	require.Equal(t, a.diags, b.diags)
	require.Equal(t, a.events, b.events)
}

// A forwarder (the MAVLink bridge) gets every published chunk, and its link state shows in the
// diagnostics, with the chunks it refused.
func TestForwarderGetsChunksAndReportsItsLink(t *testing.T) {
	f := newFixture(t, nil, nil)
	fwd := &fakeForwarder{}
	core, err := nodecore.New(nodecore.Config{Engine: f.engine, Params: f.params, Sink: f.sink, Forwarder: fwd})
	require.NoError(t, err)
	defer core.Close()
	core.SetInstruction("pick")
	core.OfferFrame(frame(0, "cam", 100))
	core.Step(t0)
	require.Len(t, fwd.chunks, 1)
	require.Same(t, f.sink.chunks[0], fwd.chunks[0], "the forwarder gets the published chunk itself")
	// With the executed_actions in force (a live parameter): the bridge commands no gripper change past
	// them.
	res := f.params.Set(paramserver.Parameter{Name: nodecore.ParamExecutedActions, Value: paramserver.Integer(2)})
	require.True(t, res[0].Successful, res[0].Reason)
	core.OfferFrame(frame(1, "cam", 200))
	core.Step(t0.Add(100 * time.Millisecond))
	require.Equal(t, []int{0, 2}, fwd.executed)

	d := core.Diagnostics(t0.Add(time.Second))
	require.Len(t, d.Status, 2)
	require.Equal(t, "dysl_vla_node: mavlink", d.Status[1].Name)
	require.Equal(t, msgs.DiagnosticWarn, d.Status[1].Level)
	require.Equal(t, "udp-client:127.0.0.1:14550", d.Status[1].HardwareID)
	notForwarded := func(d *msgs.DiagnosticArray) string { return value(t, d.Status[1], "chunks not forwarded") }
	require.Equal(t, "0", notForwarded(d))
	require.Empty(t, eventsOf[nodecore.EventForwardFailed](f.sink))

	// A chunk the link refuses was still published on ROS: it is counted and said, by its sequence.
	fwd.err = errors.New("queue full")
	core.OfferFrame(frame(200*time.Millisecond, "cam", 100))
	core.Step(t0.Add(200 * time.Millisecond))
	require.Len(t, f.sink.chunks, 3)
	failed := eventsOf[nodecore.EventForwardFailed](f.sink)
	require.Len(t, failed, 1)
	require.Equal(t, "chunk 2 not forwarded: queue full", failed[0].String())
	require.Equal(t, "1", notForwarded(core.Diagnostics(t0.Add(2*time.Second))))
}

type fakeForwarder struct {
	chunks   []*msgs.ActionChunk
	executed []int
	err      error // what ForwardChunk answers
}

func (f *fakeForwarder) ForwardChunk(c *msgs.ActionChunk, executedActions int) error {
	f.chunks = append(f.chunks, c)
	f.executed = append(f.executed, executedActions)
	return f.err
}
func (f *fakeForwarder) LinkStatus() msgs.DiagnosticStatus {
	return msgs.DiagnosticStatus{Level: msgs.DiagnosticWarn, Message: "no heartbeat for 3s"}
}

// panicOnce panics in its first RunHead, as a bug in a backend or a library would.
type panicOnce struct {
	policy.Backend
	done bool
}

func (p *panicOnce) RunHead(out []float32) error {
	if !p.done {
		p.done = true
		var table []int
		_ = table[len(out)] // index out of range
	}
	return p.Backend.RunHead(out)
}

// A panic inside one inference is that inference's failure: an ERROR diagnostic, and the next frame
// is served. The other defences do not rely on this; it is the last line.
func TestPanicInOneInferenceIsReportedAndTheNextFrameServed(t *testing.T) {
	f := newFixture(t, func(fake *policytest.Fake) policy.Backend { return &panicOnce{Backend: fake} }, nil)
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	require.Empty(t, f.sink.chunks, "events: %v", f.sink.events)
	failed := eventsOf[nodecore.EventInferenceFailed](f.sink)
	require.Len(t, failed, 1, "events: %v", f.sink.events)
	require.Contains(t, failed[0].Err.Error(), "panic: runtime error: index out of range")
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticError, st.Level)

	f.serve(time.Second, "cam")
	require.Len(t, f.sink.chunks, 1, "events: %v", f.sink.events)
}

// With use_sim_time and no /clock message yet, the node's time is zero: no frame is acted on, and the
// diagnostics say what is missing instead of blaming the camera.
func TestNoFrameIsActedOnBeforeTheFirstClockMessage(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{"use_sim_time": paramserver.Bool(true)})
	f.core.SetInstruction("pick")
	f.core.OfferFrame(frame(0, "cam", 100))
	require.True(t, f.core.Step(time.Time{}))
	require.Empty(t, f.sink.chunks)
	require.Len(t, eventsOf[nodecore.EventNoClock](f.sink), 1)
	st := f.core.Diagnostics(time.Time{}).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "/clock")
	require.Equal(t, "1", value(t, st, "frames before /clock"))

	f.serve(time.Second, "cam") // the clock is known: served
	require.Len(t, f.sink.chunks, 1)
}

// Frames dropped as stale by hours point at the clocks, not the camera: the diagnostics say how to
// play a bag into the node.
func TestStaleByHoursSaysHowToPlayABag(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	f.core.OfferFrame(frame(0, "cam", 100))
	f.core.Step(t0.Add(26721 * time.Hour))
	st := f.core.Diagnostics(t0.Add(26721 * time.Hour)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "26721h0m0s old")
	require.Contains(t, st.Message, "ros2 bag play --clock")
	require.Contains(t, st.Message, "use_sim_time:=true")

	// Slightly late frames are a pipeline matter: no hint about bags.
	g := newFixture(t, nil, nil)
	g.core.SetInstruction("pick")
	g.core.OfferFrame(frame(0, "cam", 100))
	g.core.Step(t0.Add(700 * time.Millisecond))
	st = g.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Contains(t, st.Message, "the last 700ms old")
	require.NotContains(t, st.Message, "ros2 bag play")
}

// Frames decoded by the Core from their serialized form reuse its image buffers: at a camera's rate no
// pixel buffer is allocated per frame, whether frames are served or superseded.
func TestSerializedFramesReuseTheImageBuffers(t *testing.T) {
	f := newFixture(t, nil, nil)
	big := msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0), FrameID: "cam"}, Width: 640, Height: 480,
		Encoding: "rgb8", Step: 1920, Data: make([]byte, 640*480*3)}
	raw, err := msgs.Encode(nil, &big)
	require.NoError(t, err)
	cycle := func() {
		require.True(t, f.core.OfferSerializedFrame("image", raw))
		require.True(t, f.core.OfferSerializedFrame("image", raw)) // supersedes the first
		f.core.Step(t0)                                            // no instruction: dropped, buffers kept
	}
	cycle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 50
	for range n {
		cycle()
	}
	runtime.ReadMemStats(&after)
	perFrame := (after.TotalAlloc - before.TotalAlloc) / (2 * n)
	require.Less(t, perFrame, uint64(4096), "bytes allocated per %d-byte frame", len(big.Data))

	require.False(t, f.core.OfferSerializedFrame("image", raw[:20]))
	require.Len(t, eventsOf[nodecore.EventDecodeError](f.sink), 1)
}

// With an image balance the diagnostics say what it did to the last frame, and WARN when the frame
// was lit beyond what it corrects (a dark camera) or its median is not the background's colour, while
// the frame is still served.
func TestDiagnosticsReportTheImageBalance(t *testing.T) {
	const key = "image balance gain (r g b)"
	plain := newFixture(t, nil, nil)
	plain.core.Diagnostics(t0)
	plain.core.SetInstruction("pick")
	plain.serve(0, "cam")
	require.Equal(t, "n/a: the bundle declares no image.balance", value(t, plain.core.Diagnostics(t0.Add(time.Second)).Status[0], key))

	m := policytest.Manifest()
	m.Image.Balance = []float64{0.5, 0.5, 0.5} // channel medians of 127.5
	f := newFixtureOf(t, m, nil, nil)
	require.Equal(t, "n/a", value(t, f.core.Diagnostics(t0).Status[0], key), "no frame served yet: no gain, not 0")
	f.core.SetInstruction("pick")
	f.core.OfferFrame(frame(0, "cam", 102))
	f.core.Step(t0.Add(10 * time.Millisecond))
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticOK, st.Level, st.Message)
	require.Equal(t, "1.25 1.25 1.25", value(t, st, key))

	f.core.OfferFrame(frame(time.Second, "cam", 20))
	f.core.Step(t0.Add(time.Second + 10*time.Millisecond))
	st = f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "the image balance stopped at gain 2.00 2.00 2.00 (limits 0.5 to 2")
	require.Equal(t, "2.00 2.00 2.00", value(t, st, key))
	require.Len(t, f.sink.chunks, 2)

	// A frame whose median is another hue than the background's (channel gains 1.25, 1.0 and 0.83)
	// is served, and the diagnostics say the balance read the wrong colour.
	hue := frame(2*time.Second, "cam", 0)
	for i := range hue.Data {
		hue.Data[i] = [3]byte{102, 128, 153}[i%3]
	}
	f.core.OfferFrame(hue)
	f.core.Step(t0.Add(2*time.Second + 10*time.Millisecond))
	st = f.core.Diagnostics(t0.Add(3 * time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "the image balance's channel gains disagree (1.25 1.00 0.83, more than 1.25 apart)")
	require.Len(t, f.sink.chunks, 3)

	// Gains exactly 1.25 apart are not more than that: no warning.
	m = policytest.Manifest()
	m.Image.Balance = []float64{0.5, 0.4, 0.4} // medians of 127.5, 102 and 102: a grey of 102 gains 1.25, 1 and 1
	g := newFixtureOf(t, m, nil, nil)
	g.core.Diagnostics(t0)
	g.core.SetInstruction("pick")
	g.core.OfferFrame(frame(0, "cam", 102))
	g.core.Step(t0.Add(10 * time.Millisecond))
	st = g.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "1.25 1.00 1.00", value(t, st, key))
	require.Equal(t, msgs.DiagnosticOK, st.Level, st.Message)
}

// A params file that sets executed_actions beyond the bundle's chunk stops the node at start-up,
// naming it, as a refused ros2 param set does later.
func TestStartUpRefusesCountsBeyondTheChunk(t *testing.T) {
	m := policytest.Manifest() // chunks of 2
	engine := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.NoError(t, engine.Initialize())
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{nodecore.ParamExecutedActions: paramserver.Integer(4)}, nil)
	require.NoError(t, err, "the descriptor's range is the same for every bundle")
	_, err = nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: &recorder{}})
	require.EqualError(t, err, "nodecore: executed_actions (4) must be at most the bundle's chunk of 2 actions (0 = whole chunk)")

	// Configure names every count beyond the chunk, not the first alone, as skipping.Config.Validate
	// does: with both too large it named executed_actions only, and a second configure failed again.
	t.Run("every one", func(t *testing.T) {
		srv, _, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{
			nodecore.ParamExecutedActions: paramserver.Integer(4), nodecore.ParamGripperLead: paramserver.Integer(5)}, nil)
		require.NoError(t, err)
		_, err = nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: &recorder{}})
		require.EqualError(t, err, "nodecore: executed_actions (4) must be at most the bundle's chunk of 2 actions (0 = whole chunk); "+
			"gripper_lead (5) must be below the bundle's chunk of 2 actions: 1 already takes every action's gripper command from the last")
	})
}

// A controller that answers NaN or no probability is counted where a user looks: the layer runs (NaN)
// and the chunk is published, and the diagnostics warn, naming what to check.
func TestControllerOutputsOutOfRangeAreDiagnosed(t *testing.T) {
	f := newFixture(t, func(fake *policytest.Fake) policy.Backend {
		return policytest.NewFaulty(fake, policytest.Fault{Op: policytest.OpController, NaN: true})
	}, nil)
	f.core.SetInstruction("pick")
	f.warmUp()
	f.core.Diagnostics(t0)
	f.serve(0, "cam")
	require.Len(t, f.sink.chunks, 1, "a NaN controller runs its layer: the chunk is published")
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Regexp(t, `^\d+ controller outputs were no probability \(NaN, which runs the layer, or outside \[0, 1\]\)`, st.Message)
	require.NotEqual(t, "0", value(t, st, "controller outputs out of range"))
}

// The diagnostics and the notices of undecodable messages name the topics as the edge resolved them (a
// remapped camera), once it has; before, and for a name it leaves empty, as configured.
func TestDiagnosticsNameTheTopicsAsResolved(t *testing.T) {
	f := newFixture(t, nil, nil)
	require.Equal(t, "waiting for an instruction on instruction", f.core.Diagnostics(t0).Status[0].Message)
	f.core.ReportDecodeError("image", errors.New("short"))
	f.core.NameTopics("/camera/color/image_raw", "/robot1/instruction", "")
	require.Equal(t, "waiting for an instruction on /robot1/instruction", f.core.Diagnostics(t0.Add(time.Second)).Status[0].Message)
	f.core.SetInstruction("pick")
	require.Equal(t, "no frame served on /camera/color/image_raw", f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0].Message)

	f.core.OfferSerializedFrame("image", []byte{0, 1})
	f.core.ReportDecodeError("instruction", errors.New("short"))
	f.core.ReportDecodeError(nodecore.StateTopic, errors.New("short"))
	f.core.ReportDecodeError("/tf", errors.New("short"))
	var topics []string
	for _, e := range eventsOf[nodecore.EventDecodeError](f.sink) {
		topics = append(topics, e.Topic)
	}
	require.Equal(t, []string{"image", "/camera/color/image_raw", "/robot1/instruction", nodecore.StateTopic, "/tf"}, topics)
}

// A managed node that serves no frames says so in every state, with what would make it serve.
func TestNotServingDiagnosticsNameTheWayOut(t *testing.T) {
	for state, want := range map[string]string{
		"unconfigured": "not serving frames: the managed node is unconfigured (~/change_state configures it, then activates it)",
		"inactive":     "not serving frames: the managed node is inactive (~/change_state activates it)",
		"finalized":    "not serving frames: the managed node is finalized (it was shut down: start the node again)",
		"configuring":  "not serving frames: the managed node is configuring (in transition)",
	} {
		d := nodecore.NotServingDiagnostics("dysl_vla_node", "arm1", state, t0)
		require.Len(t, d.Status, 1)
		st := d.Status[0]
		require.Equal(t, want, st.Message)
		require.Equal(t, msgs.DiagnosticWarn, st.Level)
		require.Equal(t, "dysl_vla_node: inference", st.Name, "the serving node's status name")
		require.Equal(t, "arm1", st.HardwareID)
	}
}
