package bundle

import (
	"io"

	"dysl_vla/onnxgraph"
)

// SetExchange makes Replace's exchange of the two directories f until restore is called.
func SetExchange(f func(a, b string) error) (restore func()) {
	old := exchange
	exchange = f
	return func() { exchange = old }
}

// WriteOps writes the summary's operator lines for graphs read as infos, keyed by file name.
func WriteOps(w io.Writer, infos map[string]*onnxgraph.ModelInfo) {
	var t opTally
	for _, file := range sortedKeys(infos) {
		t.add(file, infos[file])
	}
	t.write(w)
}
