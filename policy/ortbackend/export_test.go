package ortbackend

// RebindInputsForTest makes b bind its inputs again before every run, as it does on a GPU provider,
// so that the CPU tests cover that path.
func RebindInputsForTest(b *Backend) {
	b.rebindInputs = true
	for _, g := range b.graphs() {
		g.rebind = true
	}
}
