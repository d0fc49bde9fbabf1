package training

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// The committed selector reference finds the named block and pad on held-out start frames: its
// keypoints were made sharp for this (modelbuild's package doc), and the readout says so in metres.
func TestChosenPointsOfTheCommittedSelectorReference(t *testing.T) {
	p, err := modelbuild.LookupPreset("small_selector")
	require.NoError(t, err)
	w, _, err := LoadCheckpoint("../models/closedloop/reference_small_selector.safetensors", p.Arch)
	require.NoError(t, err)
	m := &modelbuild.Model{Arch: p.Arch, Weights: w}
	var states []scene.State
	for seed := range int64(16) {
		states = append(states, scene.Reset(1_000_000+seed))
	}
	got, err := ChosenPoints(m, states)
	require.NoError(t, err)
	require.Len(t, got, len(states))
	var block, pad []float64
	for i, c := range got {
		require.Equal(t, scene.StartHeight, c.TipHeight)
		require.InDelta(t, states[i].EE.HorizontalTo(states[i].Object().Pos), c.TipToBlock, 1e-12)
		block, pad = append(block, c.Block), append(pad, c.Pad)
	}
	slices.Sort(block)
	slices.Sort(pad)
	// Measured on these 16 frames: block median 0.6 cm, worst 7.8 cm; pad median 0.6 cm, worst 3.4 cm.
	require.Less(t, block[len(block)/2], 0.015, "the block's median within 1.5 cm")
	require.Less(t, pad[len(pad)/2], 0.015, "the pad's median within 1.5 cm")

	// The same readout with the selector's choices swapped names the pad where the block is: the
	// distances measure the choice, not only the keypoints.
	swapped := *w
	C := p.Arch.Keypoints
	swapped.SelectorChoice = append([]float32(nil), w.SelectorChoice...)
	swapped.SelectorChB = append([]float32(nil), w.SelectorChB...)
	G := len(w.SelectorChoice) / (2 * C)
	for g := range G {
		row := swapped.SelectorChoice[g*2*C : (g+1)*2*C]
		copy(row, append(append([]float32(nil), row[C:]...), row[:C]...))
	}
	copy(swapped.SelectorChB, append(append([]float32(nil), w.SelectorChB[C:]...), w.SelectorChB[:C]...))
	wrong, err := ChosenPoints(&modelbuild.Model{Arch: p.Arch, Weights: &swapped}, states[:1])
	require.NoError(t, err)
	gap := states[0].Object().Pos.HorizontalTo(states[0].Goal().Pos)
	require.Greater(t, wrong[0].Block, gap/2, "the block's point now sits near the pad, %.2f m away", gap)
	require.Greater(t, wrong[0].Pad, gap/2, "and the pad's near the block")
	require.Greater(t, wrong[0].BlockTowardsPad, gap/2, "the block's point is off towards the pad")
	for _, c := range got {
		require.LessOrEqual(t, math.Abs(c.BlockTowardsPad), c.Block+1e-12, "a part of the offset, along one line")
	}
}

func TestChosenPointsNeedsASelector(t *testing.T) {
	p, err := modelbuild.LookupPreset("small_keypoints")
	require.NoError(t, err)
	_, err = ChosenPoints(&modelbuild.Model{Arch: p.Arch}, []scene.State{scene.Reset(1)})
	require.ErrorContains(t, err, "no keypoint selector")
}
