package modelbuild

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"dysl_vla/scene"
)

// TestAdapterFeatures is the measurement behind context adapters (models/closedloop/README.md, attempt
// 16): on trained small_relative weights, which inputs a linear adapter needs to stand in for the
// layers it skips. It is skipped unless DYSL_ADAPTER_FEATURES names the weights:
//
//	DYSL_ADAPTER_FEATURES=models/closedloop/reference_small_relative.safetensors \
//	  go test ./modelbuild -run TestAdapterFeatures -v
//
// Each row is a jump j→11; each column a set of per-token inputs, fitted by FitLowRankResidual at full
// rank and at rank 16 on 96 scene frames, measured on 32 others (held-out unexplained share).
func TestAdapterFeatures(t *testing.T) {
	weights := os.Getenv("DYSL_ADAPTER_FEATURES")
	if weights == "" {
		t.Skip("set DYSL_ADAPTER_FEATURES to a small_relative safetensors file")
	}
	a := presets["small_relative"].Arch
	w, err := LoadWeights(weights, a)
	require.NoError(t, err)
	m := &Model{Arch: a, Weights: w}
	obs, err := SceneCalibrationObservations(a, 96+32, 1, scene.Tabletop{})
	require.NoError(t, err)
	fit, err := m.calibrate(obs[:96])
	require.NoError(t, err)
	heldOut, err := m.calibrate(obs[96:])
	require.NoError(t, err)

	D, T := a.Hidden, a.Tokens()
	groups := a.TokenGroups()
	groupOf := func(token int) int {
		for g, r := range groups {
			if token < r[1] {
				return g
			}
		}
		return len(groups) - 1
	}
	// features are a token's regression inputs (without the bias column) given its normalized frame n.
	kinds := []struct {
		name     string
		features func(n *mat.Dense, token int) []float64
	}{
		{"per token", func(n *mat.Dense, token int) []float64 { return n.RawRowView(token) }},
		{"+ frame mean", func(n *mat.Dense, token int) []float64 {
			return append(append([]float64(nil), n.RawRowView(token)...), meanRows(n)...)
		}},
		{"+ group means", func(n *mat.Dense, token int) []float64 {
			return append(append([]float64(nil), n.RawRowView(token)...), a.groupMeans(n)...)
		}},
		{"+ position", func(n *mat.Dense, token int) []float64 {
			x := append(make([]float64, 0, D+T), n.RawRowView(token)...)
			x = append(x, make([]float64, T)...)
			x[D+token] = 1
			return x
		}},
		{"per-group maps + group means", func(n *mat.Dense, token int) []float64 {
			x := make([]float64, len(groups)*D, len(groups)*D*2)
			copy(x[groupOf(token)*D:], n.RawRowView(token))
			return append(x, a.groupMeans(n)...)
		}},
	}
	problem := func(c *calibration, j int, features func(*mat.Dense, int) []float64) (X, Y *mat.Dense) {
		ones := make([]float32, D)
		for i := range ones {
			ones[i] = 1
		}
		var rows [][]float64
		var targets []float64
		for _, h := range c.hiddens {
			n := m.rmsNorm(h[j], ones)
			for token := 0; token < T; token++ {
				rows = append(rows, append(features(n, token), 1))
				for d := 0; d < D; d++ {
					targets = append(targets, h[a.Layers-1].At(token, d)-h[j].At(token, d))
				}
			}
		}
		X = mat.NewDense(len(rows), len(rows[0]), nil)
		for i, r := range rows {
			X.SetRow(i, r)
		}
		return X, mat.NewDense(len(rows), D, targets)
	}
	for _, j := range []int{1, 3, 5, 7, 9, 10} {
		line := fmt.Sprintf("%d→%d:", j, a.Layers-1)
		var shares []float64
		for _, k := range kinds {
			X, Y := problem(fit, j, k.features)
			Xh, Yh := problem(heldOut, j, k.features)
			_, _, full, err := FitLowRankResidual(X, Y, Xh, Yh, D)
			require.NoError(t, err)
			_, _, low, err := FitLowRankResidual(X, Y, Xh, Yh, a.AdapterRank)
			require.NoError(t, err)
			line += fmt.Sprintf("  %s %.3f (%.3f)", k.name, full, low)
			shares = append(shares, full)
		}
		t.Log(line)
		require.Less(t, shares[2], shares[0], "jump %d→%d: the group means explain more than the token alone", j, a.Layers-1)
	}
}
