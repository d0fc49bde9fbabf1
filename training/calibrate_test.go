package training

import (
	"math"
	"os"
	"testing"

	"dysl_vla/modelbuild"

	"github.com/stretchr/testify/require"
)

// TestLayerSimilarityMatchesReference checks the calibration statistic against the same cosine
// computed from modelbuild's reference hidden states, and that the profile plot is written.
func TestLayerSimilarityMatchesReference(t *testing.T) {
	a := tinyPreset()
	w := modelbuild.RandomWeights(a, 11)
	m, err := NewModel(a, w)
	require.NoError(t, err)
	data, err := GenerateEpisodes(a, Seeds(HeldOutSeedStart, 1))
	require.NoError(t, err)
	indices := []int{0, 20, 40}
	got, err := m.LayerSimilarity(data, indices)
	require.NoError(t, err)

	ref := &modelbuild.Model{Arch: a, Weights: w}
	want := make([]float64, a.Layers)
	for _, i := range indices {
		o := data.Frames[i].Observation(a)
		hiddens, _, err := ref.Forward(o)
		require.NoError(t, err)
		for l := 0; l < a.Layers; l++ {
			for tok := 0; tok < a.Tokens(); tok++ {
				x, y := hiddens[l].RawRowView(tok), hiddens[l+1].RawRowView(tok)
				var xy, xx, yy float64
				for d := range x {
					xy, xx, yy = xy+x[d]*y[d], xx+x[d]*x[d], yy+y[d]*y[d]
				}
				want[l] += xy / math.Sqrt(xx*yy) / float64(len(indices)*a.Tokens())
			}
		}
	}
	require.InDeltaSlice(t, want, got, 1e-4)

	static := modelbuild.ChooseStatic(got, 0.25)
	require.Contains(t, static, a.Layers-1)
	path := t.TempDir() + "/profile.png"
	require.NoError(t, PlotSimilarity(path, got, static))
	header := make([]byte, 8)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Read(header)
	require.NoError(t, err)
	require.Equal(t, "\x89PNG\r\n\x1a\n", string(header))
}
