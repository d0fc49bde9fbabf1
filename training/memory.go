package training

// frameBytes is about what the frames take in memory: their slices' contents and the Frame values.
func frameBytes(frames []Frame) uint64 {
	const frameValue = 256 // the struct itself: slice headers, the action, the scalars
	var n uint64
	for _, f := range frames {
		n += frameValue + uint64(len(f.RGB)) + 8*uint64(len(f.Tokens)+len(f.State)+len(f.Unlabelled)) +
			4*uint64(len(f.Chunk)+len(f.Probe)+len(f.Keypoints)+len(f.Selection))
	}
	return n
}
