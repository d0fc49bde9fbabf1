package ortbackend

import ort "github.com/yalue/onnxruntime_go"

// RebindInputsForTest makes b bind its inputs again before every run, as it does on a GPU provider,
// so that the CPU tests cover that path.
func RebindInputsForTest(b *Backend) {
	for _, g := range b.graphs() {
		g.rebind = true
	}
}

// StaleInputsForTest binds the prefix's inputs to copies the backend never writes, as a GPU provider
// did when it copied them once at binding time.
func StaleInputsForTest(b *Backend) error {
	for _, in := range b.prefix.inputs[0] {
		var stale ort.Value
		var err error
		switch t := in.value.(type) {
		case *ort.Tensor[float32]:
			stale, err = ort.NewEmptyTensor[float32](t.GetShape())
		case *ort.Tensor[int64]:
			stale, err = ort.NewEmptyTensor[int64](t.GetShape())
		}
		if err != nil {
			return err
		}
		if err := b.prefix.bindings[0].BindInput(in.name, stale); err != nil {
			return err
		}
	}
	return nil
}

// CheckInputsForTest runs the start-up check that the inputs reach the graphs.
func CheckInputsForTest(b *Backend) error { return b.checkInputsReachThePrefix() }
