package msgs

import "fmt"

// At returns dimension j of step s. It panics when out of range, like a
// slice index; call Validate first on chunks from outside.
func (m *ActionChunk) At(step, dim int) float32 {
	return m.Actions[step*int(m.ActionDim)+dim]
}

// Validate checks that the shape fields agree with the slices: Actions has
// Steps*ActionDim values and ActionNames is empty or has ActionDim names.
// Decoding does not check this; a consumer that indexes actions must.
func (m *ActionChunk) Validate() error {
	if want := uint64(m.Steps) * uint64(m.ActionDim); uint64(len(m.Actions)) != want {
		return fmt.Errorf("msgs: ActionChunk actions has %d values, expected steps %d x action_dim %d = %d", len(m.Actions), m.Steps, m.ActionDim, want)
	}
	if len(m.ActionNames) != 0 && len(m.ActionNames) != int(m.ActionDim) {
		return fmt.Errorf("msgs: ActionChunk action_names has %d names, expected 0 or action_dim %d", len(m.ActionNames), m.ActionDim)
	}
	return nil
}
