package modelbuild

import (
	"fmt"
	"slices"
)

// Deepen returns a backbone of architecture to that computes exactly what w (a backbone of from: fewer
// or as many layers, the same widths, perhaps without the state input, the keypoints, their selector or the relative points) computes: w's
// layers keep their order, spread over the deeper stack, and the new layers between them start as
// identities (their attention and MLP output projections are zero, the rest from modelbuild's random
// initialization, seed 0, so that training moves them at once).
//
// One change is taken as it is rather than made exact: another keypoint gain. The score weights are
// copied, so the same scores make sharper (or flatter) keypoints; that is what a higher gain is for
// (the package doc).
//
// Why: training the 12-layer closed-loop reference from random weights sat at the constant predictor
// for hundreds of steps on 2 cores; starting from a trained shallower model (depth up-scaling, as in
// SOLAR 10.7B or progressive stacking) begins where that model already is.
func Deepen(w *Weights, from, to Arch) (*Weights, error) {
	same := from
	same.Layers, same.StateDim, same.StateFrequencies = to.Layers, to.StateDim, to.StateFrequencies
	same.Keypoints, same.KeypointHidden = to.Keypoints, to.KeypointHidden
	same.SelectorWindow, same.SelectorHidden, same.RelativePoints = to.SelectorWindow, to.SelectorHidden, to.RelativePoints
	same.KeypointGain = to.KeypointGain // the one change that is not exact, see above
	if same != to {
		return nil, fmt.Errorf("modelbuild: deepen: architectures differ beyond the layer count, the state input, the keypoints, their selector and the relative points (%+v vs %+v)", from, to)
	}
	if from.SelectorWindow != 0 && (from.SelectorWindow != to.SelectorWindow || from.SelectorHidden != to.SelectorHidden) {
		return nil, fmt.Errorf("modelbuild: deepen: a keypoint selector of window %d and width %d cannot become one of %d and %d",
			from.SelectorWindow, from.SelectorHidden, to.SelectorWindow, to.SelectorHidden)
	}
	if from.RelativePoints && !to.RelativePoints {
		return nil, fmt.Errorf("modelbuild: deepen: the relative points cannot be dropped")
	}
	if from.Keypoints != 0 && (from.Keypoints != to.Keypoints || from.KeypointHidden != to.KeypointHidden) {
		return nil, fmt.Errorf("modelbuild: deepen: %d keypoints of width %d cannot become %d of width %d", from.Keypoints, from.KeypointHidden, to.Keypoints, to.KeypointHidden)
	}
	if from.StateDim != 0 && from.StateFeatures() != to.StateFeatures() {
		return nil, fmt.Errorf("modelbuild: deepen: a state input of %d features cannot become one of %d", from.StateFeatures(), to.StateFeatures())
	}
	n, L := from.Layers, to.Layers
	if len(w.Layers) != n || n < 1 || L < n {
		return nil, fmt.Errorf("modelbuild: deepen: %d layers (architecture says %d) cannot become %d", len(w.Layers), n, L)
	}
	out := RandomWeights(to, 0)
	out.PatchWeight, out.PatchPosition = slices.Clone(w.PatchWeight), slices.Clone(w.PatchPosition)
	out.TokenEmbedding, out.ActionQueries = slices.Clone(w.TokenEmbedding), slices.Clone(w.ActionQueries)
	out.HeadNorm, out.HeadWeight, out.HeadBias = slices.Clone(w.HeadNorm), slices.Clone(w.HeadWeight), slices.Clone(w.HeadBias)
	if from.StateFeatures() == to.StateFeatures() {
		out.StateWeight, out.StateBias = slices.Clone(w.StateWeight), slices.Clone(w.StateBias)
	} // else the new state input starts at RandomWeights' zeros: ignored until trained
	if from.Keypoints == to.Keypoints {
		out.KeypointPixel, out.KeypointPixelB = slices.Clone(w.KeypointPixel), slices.Clone(w.KeypointPixelB)
		out.KeypointScore, out.KeypointScoreB = slices.Clone(w.KeypointScore), slices.Clone(w.KeypointScoreB)
		out.KeypointOut = slices.Clone(w.KeypointOut)
	} // else new keypoints start at RandomWeights': a random pixel network, a zero output map
	if from.SelectorWindow == to.SelectorWindow && from.SelectorHidden == to.SelectorHidden {
		out.SelectorEmbed, out.SelectorWindow, out.SelectorWinB = slices.Clone(w.SelectorEmbed), slices.Clone(w.SelectorWindow), slices.Clone(w.SelectorWinB)
		out.SelectorChoice, out.SelectorChB, out.SelectorOut = slices.Clone(w.SelectorChoice), slices.Clone(w.SelectorChB), slices.Clone(w.SelectorOut)
	} // else a new selector starts at RandomWeights': a random window network, zero choice and output maps
	if from.RelativePoints {
		out.GripperWeight, out.GripperBias, out.RelativeOut = slices.Clone(w.GripperWeight), slices.Clone(w.GripperBias), slices.Clone(w.RelativeOut)
	} // else new relative points start at RandomWeights': the camera's calibration, a zero output map
	kept := DeepenedPositions(n, L)
	next := 0
	for i := range out.Layers {
		if next < n && kept[next] == i {
			l := w.Layers[next]
			out.Layers[i] = LayerWeights{AttnNorm: slices.Clone(l.AttnNorm), Q: slices.Clone(l.Q), K: slices.Clone(l.K), V: slices.Clone(l.V),
				O: slices.Clone(l.O), MLPNorm: slices.Clone(l.MLPNorm), Gate: slices.Clone(l.Gate), Up: slices.Clone(l.Up), Down: slices.Clone(l.Down)}
			next++
			continue
		}
		clear(out.Layers[i].O)
		clear(out.Layers[i].Down)
	}
	return out, nil
}

// DeepenedPositions is where Deepen puts each of n layers in a stack of L: spread evenly, the first
// and the last kept in place.
func DeepenedPositions(n, L int) []int {
	pos := make([]int, n)
	for i := range pos {
		if n > 1 {
			pos[i] = (i*(L-1) + (n-1)/2) / (n - 1)
		}
	}
	return pos
}
