package closedloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

func TestWilson(t *testing.T) {
	p, lo, hi := Wilson(5, 10)
	require.Equal(t, 0.5, p)
	require.InDelta(t, 0.2366, lo, 1e-4)
	require.InDelta(t, 0.7634, hi, 1e-4)
	_, lo, hi = Wilson(0, 3)
	require.Zero(t, lo)
	require.InDelta(t, 0.5615, hi, 1e-4)
	_, lo, hi = Wilson(20, 20)
	require.InDelta(t, 0.8389, lo, 1e-4)
	require.Equal(t, 1.0, hi)
	p, _, _ = Wilson(0, 0)
	require.True(t, math.IsNaN(p))
}

func TestSuiteRowsAndJSON(t *testing.T) {
	p := &expertPolicy{}
	expert := &Variant{Name: "full", Engine: newEngine(t, p.head), Skipping: skipping.DefaultConfig()}
	full := skipping.DefaultConfig()
	full.Strategy = skipping.StrategyFull
	expert.Skipping = full
	zero := &Variant{Name: "zero", Engine: newEngine(t, func(out []float32) { clear(out) }), Skipping: skipping.DefaultConfig()}
	missing := &Variant{Name: "missing", Note: "not run: no bundle"}
	sc := scene.DefaultConfig()
	sc.Tabletop = scene.ChainTabletop()
	sc.Tabletop.Chain = 2
	sc.MaxSteps = 200
	episodes := 0
	suite := Suite{Scene: sc, Latency: FixedLatency(0), Progress: func() { episodes++ }}
	// The expert policy reads the world of the frame it is served from the harness.
	rows, err := suite.play(context.Background(), "test", []*Variant{expert, zero, missing}, []int64{7, 8, 9}, func(s scene.State) { p.seen = s })
	require.NoError(t, err)
	require.Equal(t, 6, episodes)
	Finish(rows, "full")

	require.Equal(t, 3, rows[0].Episodes)
	require.Equal(t, Metric(1), rows[0].SuccessRate)
	require.Equal(t, Metric(2), rows[0].ChainLength)
	require.Equal(t, Metric(8), rows[0].ExecutedLayers)
	require.Equal(t, Metric(1), rows[0].FreeSuccess)
	require.Equal(t, Metric(1), rows[0].CriticalSuccess)
	require.Equal(t, Metric(0), rows[1].SuccessRate)
	require.Equal(t, Metric(0), rows[1].ChainLength)
	require.Equal(t, Metric(0), rows[1].FreeSuccess)
	require.Equal(t, Metric(0), rows[0].ApproachMissCm, "the expert carried every block")
	require.Greater(t, float64(rows[1].ApproachMissCm), 100*scene.GraspReach, "an arm that holds still misses")
	require.Equal(t, rows[0].ApproachGapCm, rows[1].ApproachGapCm, "the same seeds, the same starting gaps")
	require.Positive(t, float64(rows[0].ApproachGapCm))
	require.False(t, rows[2].Available)

	var out bytes.Buffer
	WriteTable(&out, rows)
	require.Contains(t, out.String(), "missing          not run: no bundle")
	require.Contains(t, out.String(), fmt.Sprintf("would miss by %.1f cm", float64(rows[0].ApproachGapCm)))
	js, err := json.Marshal(map[string]any{"variants": rows})
	require.NoError(t, err)
	var back struct {
		Variants []map[string]any `json:"variants"`
	}
	require.NoError(t, json.Unmarshal(js, &back))
	for _, key := range []string{"variant", "episodes", "success_rate", "chain_length", "executed_layers", "backbone_speedup", "speedup"} {
		require.Contains(t, back.Variants[0], key)
	}
	require.Nil(t, back.Variants[1]["grasp_release_success"], "no grasp was ever attempted: null, not 0")
}

func TestMedianIsAValueOfTheSample(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.0, median([]float64{4, 1, 3, 2}), "the lower of the two middle values")
	require.True(t, math.IsNaN(median(nil)))
}

func TestFinishSpeedups(t *testing.T) {
	rows := []Row{
		{Variant: "full", Inferences: 10, engine: 100 * time.Millisecond, backbone: 80 * time.Millisecond},
		{Variant: "dysl", Inferences: 20, engine: 100 * time.Millisecond, backbone: 40 * time.Millisecond},
	}
	Finish(rows, "full")
	require.InDelta(t, 2.0, float64(rows[1].Speedup), 1e-12)
	require.InDelta(t, 4.0, float64(rows[1].BackboneSpeedup), 1e-12)
	require.InDelta(t, 1.0, float64(rows[0].Speedup), 1e-12)
}

// The report's text names what was evaluated, then the table, then one line per note.
func TestWriteReport(t *testing.T) {
	rep := &Report{Model: "m", Layers: 8, Static: []int{3, 7}, Seeds: [2]int64{1000000, 1000003}, Tasks: "tabletop",
		Latency: "fixed 0s", DySL: "tau 0.5", Variants: []Row{{Variant: "missing", Note: "not run: no bundle"}},
		Notes: []string{"first", "second"}}
	var out, table bytes.Buffer
	WriteReport(&out, rep)
	WriteTable(&table, rep.Variants)
	require.Equal(t, "model m (8 layers, static [3 7]), closed loop, tabletop, held-out seeds 1000000..1000003, latency fixed 0s\n"+
		"dysl config: tau 0.5\n\n"+table.String()+"note: first\nnote: second\n", out.String())
}

func TestDescribeTasksNamesWhatEachEpisodeAsks(t *testing.T) {
	image64 := bundle.ImageSpec{Width: 64, Height: 64}
	single := Suite{Scene: scene.DefaultConfig()}
	require.Equal(t, "single task", describeTasks(single, image64))
	one := Suite{Scene: tabletop(scene.DefaultTabletop())}
	require.Equal(t, "tabletop: 3 blocks, 4 pads, one instruction per episode", describeTasks(one, image64))
	chain := Suite{Scene: tabletop(scene.ChainTabletop())}
	require.Equal(t, "tabletop: 3 blocks, 4 pads, chains of 5 instructions", describeTasks(chain, image64))
	distractor := Suite{Scene: tabletop(scene.Tabletop{Blocks: 1, Pads: 2, Chain: 1, Colours: 6})}
	require.Equal(t, "tabletop: 1 blocks, 2 pads, one instruction per episode (the first 6 colours, light ±0, extra noise up to 0)", describeTasks(distractor, image64))
	diagnostic := Suite{Scene: scene.DefaultConfig(), ExpertDims: []int{0, 1}}
	require.Equal(t, "single task; A DIAGNOSTIC: action columns [0 1] (scene.Action indices) come from the scripted expert in every variant", describeTasks(diagnostic, image64))
	camera := Suite{Scene: scene.DefaultConfig()}
	camera.Scene.Width, camera.Scene.Height = 640, 480
	require.Equal(t, "single task; camera frames 640x480, converted to the model's input (64x64)", describeTasks(camera, image64))
	inverted := Suite{Scene: scene.DefaultConfig(), Gripper: gripper.Convention{Open: 1, Closed: -1}}
	require.Equal(t, "single task; the policy's gripper column opens at 1 and closes at -1 (node parameters gripper_open and gripper_closed)", describeTasks(inverted, image64))
	scenes := Suite{Scene: scene.DefaultConfig(), Gripper: gripper.Default()}
	require.Equal(t, "single task", describeTasks(scenes, image64), "the scene's own convention goes without saying")
}

// The suite hands its expert columns to every variant's harness: with all of them, a zero policy
// succeeds in every episode; without them, in none.
func TestSuiteExpertDimsReachEveryVariant(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 200
	variants := func() []*Variant { return zeroPolicies(t, "a", "b") }
	rows, err := Suite{Scene: sc, Latency: FixedLatency(0), ExpertDims: []int{0, 1, 2, 3, 4, 5, 6}}.Run(context.Background(), variants(), []int64{3, 4})
	require.NoError(t, err)
	for _, r := range rows {
		require.Equal(t, Metric(1), r.SuccessRate, r.Variant)
	}
	rows, err = Suite{Scene: sc, Latency: FixedLatency(0)}.Run(context.Background(), variants(), []int64{3, 4})
	require.NoError(t, err)
	for _, r := range rows {
		require.Equal(t, Metric(0), r.SuccessRate, r.Variant)
	}
}

// Stopped part way through a round, the suite reports the rounds every variant finished, and says
// so in an error that wraps the stop's cause; stopped at a round's end, that round counts too.
func TestSuiteStoppedKeepsWholeRounds(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 20
	variants := append(zeroPolicies(t, "a", "b"), &Variant{Name: "missing", Note: "not run: no bundle"})
	interrupt := errors.New("interrupt signal received")
	for _, tc := range []struct{ stopAfter, rounds int }{{3, 1}, {4, 2}, {1, 0}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		played := 0
		suite := Suite{Scene: sc, Latency: FixedLatency(0), Progress: func() {
			if played++; played == tc.stopAfter {
				cancel(interrupt)
			}
		}}
		rows, err := suite.Run(ctx, variants, []int64{3, 4, 5})
		require.ErrorIs(t, err, interrupt)
		require.ErrorContains(t, err, fmt.Sprintf("closedloop: stopped after %d of 3 episodes", tc.rounds))
		require.Equal(t, tc.stopAfter, played, "no episode is begun once stopped")
		require.Len(t, rows, 3)
		for _, r := range rows[:2] {
			require.Equal(t, tc.rounds, r.Episodes, "stopped after %d episodes: %s", tc.stopAfter, r.Variant)
			require.Equal(t, tc.rounds*20, r.Steps, r.Variant)
		}
		require.False(t, rows[2].Available)
		require.Zero(t, rows[2].Episodes)
		cancel(nil)
	}
}

// A journal that can no longer be written (a full disk) stops the suite like Ctrl-C: the rounds
// played are returned with an error that names the journal's fault, and the round that could not be
// journaled still counts.
func TestSuiteStopsWhenItsJournalFails(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 20
	variants := zeroPolicies(t, "a", "b")
	j, err := openJournal(filepath.Join(t.TempDir(), "run.journal"), "sweep", "", identity(map[string]any{}))
	require.NoError(t, err)
	played := 0
	suite := Suite{Scene: sc, Latency: FixedLatency(0), journal: j, Progress: func() {
		if played++; played == 3 {
			require.NoError(t, j.file.Close()) // the second round's record will fail
		}
	}}
	rows, err := suite.play(context.Background(), "test", variants, []int64{3, 4, 5}, nil)
	var stop *StoppedError
	require.ErrorAs(t, err, &stop)
	require.Equal(t, 2, stop.Played)
	require.ErrorContains(t, err, "closedloop: stopped after 2 of 3 episodes: closedloop: journal ")
	require.ErrorIs(t, err, os.ErrClosed)
	require.Equal(t, 4, played)
	for _, r := range rows {
		require.Equal(t, 2, r.Episodes, r.Variant)
	}
}

// zeroPolicies are variants, one per name, whose policy outputs zeros: the arm holds still.
func zeroPolicies(t *testing.T, names ...string) []*Variant {
	var variants []*Variant
	for _, name := range names {
		variants = append(variants, &Variant{Name: name, Engine: newEngine(t, func(out []float32) { clear(out) }), Skipping: skipping.DefaultConfig()})
	}
	return variants
}
