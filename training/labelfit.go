package training

import "dysl_vla/scene"

// LabelFit is how far a model's chunks lie from the expert's labels on a group of frames: what a
// DAgger round on those frames would have to change. A policy that completes most tasks and still
// lies far from the labels of its own states is taught another way to the same goal, not a
// correction (models/closedloop/README.md, attempt 20).
type LabelFit struct {
	// Group is the expert's phase at the frames' states, or ClosedOnNothing.
	Group  string
	Frames int
	// MSE is the mean squared error per action column over the chunk's steps, in the normalized units
	// training uses (ActionNormalization).
	MSE []float64
	// GripperWrong is the share of chunk steps whose gripper command has the other sign than the
	// label's; GripperWrongNow counts each chunk's first step, the one executed next.
	GripperWrong, GripperWrongNow float64
}

// ClosedOnNothing groups the states whose gripper is closed without the named block: the expert
// labels them by opening, whatever its phase says.
const ClosedOnNothing = "closed on nothing"

// FitToLabels labels each frame of d (LabelStates of states, in order) and groups the model's error by
// the expert's phase at its state, in task order, with ClosedOnNothing last.
func (m *Model) FitToLabels(d *Dataset, states []scene.State) ([]LabelFit, error) {
	pred, err := m.PredictChunks(d, allIndices(d))
	if err != nil {
		return nil, err
	}
	a := d.Arch
	gripper := a.ActionDim - 1
	type sums struct {
		frames          int
		sq              []float64
		wrong, wrongNow int
	}
	groups := map[string]*sums{}
	for i, f := range d.Frames {
		name := f.Phase.String()
		if s := states[i]; s.Gripper > 0 && !s.HoldsObject() {
			name = ClosedOnNothing
		}
		g := groups[name]
		if g == nil {
			g = &sums{sq: make([]float64, a.ActionDim)}
			groups[name] = g
		}
		g.frames++
		for k := range a.Chunk {
			for c := range a.ActionDim {
				e := float64(pred[i][k*a.ActionDim+c] - f.Chunk[k*a.ActionDim+c])
				g.sq[c] += e * e
			}
			if (pred[i][k*a.ActionDim+gripper] > 0) != (f.Chunk[k*a.ActionDim+gripper] > 0) {
				g.wrong++
				if k == 0 {
					g.wrongNow++
				}
			}
		}
	}
	var order []string
	for p := scene.Approach; p <= scene.Done; p++ {
		order = append(order, p.String())
	}
	order = append(order, ClosedOnNothing)
	var out []LabelFit
	for _, name := range order {
		g := groups[name]
		if g == nil {
			continue
		}
		fit := LabelFit{Group: name, Frames: g.frames, GripperWrong: float64(g.wrong) / float64(g.frames*a.Chunk),
			GripperWrongNow: float64(g.wrongNow) / float64(g.frames)}
		for _, sq := range g.sq {
			fit.MSE = append(fit.MSE, sq/float64(g.frames*a.Chunk))
		}
		out = append(out, fit)
	}
	return out, nil
}
