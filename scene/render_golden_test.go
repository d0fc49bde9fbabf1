package scene

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTabletopFramesUnchanged pins the frames of tabletop episodes (pads, lifted blocks' shadows,
// light and noise) at a square and a wider-than-tall size, as TestSingleTaskEpisodesUnchanged pins the
// single-task ones: a change to how Render computes a pixel must not move one, or every closed-loop
// figure measured before it moves too.
func TestTabletopFramesUnchanged(t *testing.T) {
	h := sha256.New()
	for _, size := range [][2]int{{64, 64}, {80, 48}} {
		for _, tt := range []Tabletop{DefaultTabletop(), ChainTabletop(), {Blocks: 1, Pads: 2, Chain: 1, Colours: 6}} {
			cfg := DefaultConfig()
			cfg.Width, cfg.Height, cfg.Tabletop = size[0], size[1], tt
			for seed := range int64(3) {
				steps, err := Episode(seed, cfg)
				require.NoError(t, err)
				for _, st := range steps {
					h.Write(st.Image.RGB)
				}
			}
		}
	}
	require.Equal(t, "ae47c303fc824276c305274f57d198c9787164af9bd0d3f0983375d51775f324", hex.EncodeToString(h.Sum(nil)))
}

// BenchmarkRenderTabletop renders a tabletop frame mid-episode (a lifted block and its shadow, light
// and noise) at the models' 64x64.
func BenchmarkRenderTabletop(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Tabletop = DefaultTabletop()
	steps, err := Episode(1, cfg)
	require.NoError(b, err)
	s := steps[len(steps)/2].State
	for b.Loop() {
		Render(s, 64, 64, 0)
	}
}
