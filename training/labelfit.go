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
	groups := map[string][]int{}
	for i, f := range d.Frames {
		name := f.Phase.String()
		if states[i].ClosedOnNothing() {
			name = ClosedOnNothing
		}
		groups[name] = append(groups[name], i)
	}
	var order []string
	for p := scene.Approach; p <= scene.Done; p++ {
		order = append(order, p.String())
	}
	order = append(order, ClosedOnNothing)
	a := d.Arch
	var out []LabelFit
	for _, name := range order {
		indices := groups[name]
		if len(indices) == 0 {
			continue
		}
		sq := make([]float64, a.ActionDim)
		groupPred := make([][]float32, len(indices))
		for k, i := range indices {
			groupPred[k] = pred[i]
			for j, label := range d.Frames[i].Chunk {
				e := float64(pred[i][j] - label)
				sq[j%a.ActionDim] += e * e
			}
		}
		metrics := CompareChunks(d, indices, groupPred, a.ActionDim)
		fit := LabelFit{Group: name, Frames: len(indices), GripperWrong: 1 - metrics.Gripper, GripperWrongNow: 1 - metrics.GripperNow}
		for _, v := range sq {
			fit.MSE = append(fit.MSE, v/float64(len(indices)*a.Chunk))
		}
		out = append(out, fit)
	}
	return out, nil
}
