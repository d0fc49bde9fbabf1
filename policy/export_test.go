package policy

// CompareChunks exposes compareChunks: the runs refuse a chunk that is not finite before it is compared,
// so the comparison's own handling of one is reached only from here.
func (e *Engine) CompareChunks(segmented, single [][]float64) SingleGraphComparison {
	return e.compareChunks(segmented, single)
}
