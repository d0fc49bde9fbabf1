// Package earlyexit is the DeeR-VLA-style early-exit baseline (docs/ALGORITHM.md, "Strategies") in the same
// engine family as DySL: the bundle's own prefix, layer and head graphs, plus one exit adapter after
// every few layers, run on the policy engine as a stepwise pass (policy.Engine.InferStepwise) that
// peeks at the head through each exit adapter.
//
// Exits. With Every = 2 the exits sit after layers 1, 3, 5, ... and after the last layer, as DeeR's
// exit_interval 2 puts them. The exit after layer k (k < L-1) is an adapter graph of the bundle's
// adapter shape (modelbuild.AdapterGraph: h + RMSNorm(h)·down·up + bias) that maps the output of layer
// k to an estimate of the last layer's output; the bundle's head turns that into an action chunk. The
// exit after the last layer is the head itself, so the deepest exit is exactly the full model.
//
// Fit. The exit adapters are fitted in closed form, not trained: ridge least squares of
// h_L − h_{k+1} on [RMSNorm(h_{k+1}) 1] over the action-query tokens (the only rows the head reads)
// of calibration frames from training episodes, hidden states from modelbuild's reference forward
// pass of the frozen backbone; the ridge penalty is chosen on held-out calibration frames; then a
// reduced-rank projection to the adapter rank. DeeR instead trains its exits (and an LSTM action head)
// jointly; these are post-hoc linear probes of a frozen backbone, so the baseline is if anything weak.
//
// Exit criterion (DeeR's threshold_type 'L2'). At exit i the chunk a_i is compared with the previous
// exit's chunk: δ_i = sqrt(mean over the K·A normalized values of (a_i − a_{i−1})²). The pass stops at
// the first exit i ≥ 1 with δ_i < η. The first exit has no predecessor, so the earliest possible exit
// is the second one; η = 0 never exits early (the full model); a huge η exits at the second exit. DeeR
// solves one η per exit offline; here one η serves every exit, chosen to match a target depth
// (MatchThreshold) or given.
//
// The baseline beside DySL. BaselineConfig and OpenBaseline are early exit as the open-loop and the
// closed-loop evaluations both run it: the exits fitted on training episodes of the evaluated tasks,
// the settings checked against the bundle before an evaluation spends any time.
package earlyexit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
)

// ExitLayers lists the layers after which exits sit: every-1, 2·every-1, ... and always the last layer.
func ExitLayers(layers, every int) []int {
	if every < 1 {
		every = 1
	}
	var out []int
	for k := every - 1; k < layers-1; k += every {
		out = append(out, k)
	}
	return append(out, layers-1)
}

// FitConfig configures the closed-form fit of the exit adapters.
type FitConfig struct {
	Arch    modelbuild.Arch
	Weights *modelbuild.Weights
	// Every is the exit interval in layers; it defaults to 2 (DeeR's exit_interval).
	Every int
	// Rank is the adapters' bottleneck width; it defaults to Arch.AdapterRank, the DySL adapters' width.
	Rank int
	// Frames are the calibration observations (from training episodes, never held-out ones).
	Frames []modelbuild.Observation
	// HeldOut is the share of Frames kept aside to choose the ridge penalty and report the fit; it
	// defaults to 0.2 (at least one frame).
	HeldOut float64
}

// Fit is the result of fitting the exit adapters.
type Fit struct {
	Arch     modelbuild.Arch // Arch with AdapterRank set to the exits' rank
	Exits    []int           // layers after which exits sit, the last one being Layers-1
	Adapters map[int]*modelbuild.AdapterWeights
	// Unexplained is ‖A(h_{k+1}) − h_L‖² / ‖h_{k+1} − h_L‖² over the action-query tokens of the held-out
	// calibration frames (0: exact, 1: no better than the hidden state as it is), per exit layer.
	Unexplained map[int]float64
	// ChunkMAE is the held-out mean |exit chunk − full chunk| in normalized action units, per exit layer.
	ChunkMAE map[int]float64
	Ridge    map[int]float64 // the relative ridge penalty chosen, per exit layer
	Frames   int             // calibration frames used for the fit (held-out ones not counted)
}

// FitExits runs the reference forward pass over the calibration frames and fits one exit adapter per
// exit layer except the last. A done ctx stops it between frames and between exits, with ctx's cause:
// the forward pass over a few hundred frames of a 12-layer backbone takes seconds on a small CPU.
func FitExits(ctx context.Context, cfg FitConfig) (*Fit, error) {
	a := cfg.Arch
	if cfg.Weights == nil {
		return nil, errors.New("earlyexit: FitExits needs the backbone weights")
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Rank <= 0 {
		cfg.Rank = a.AdapterRank
	}
	if err := checkShape(cfg.Every, cfg.Rank, a.Layers, a.Hidden); err != nil {
		return nil, err
	}
	if cfg.HeldOut <= 0 || cfg.HeldOut >= 1 {
		cfg.HeldOut = 0.2
	}
	nHeld := max(1, int(float64(len(cfg.Frames))*cfg.HeldOut+0.5))
	if len(cfg.Frames)-nHeld < 1 {
		return nil, fmt.Errorf("earlyexit: %d calibration frames are too few (need at least 2)", len(cfg.Frames))
	}
	model := &modelbuild.Model{Arch: a, Weights: cfg.Weights}
	forward := func(obs []modelbuild.Observation) ([][]*mat.Dense, error) {
		out := make([][]*mat.Dense, len(obs))
		for i, o := range obs {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			h, _, err := model.Forward(o)
			if err != nil {
				return nil, fmt.Errorf("earlyexit: calibration frame %d: %w", i, err)
			}
			out[i] = h
		}
		return out, nil
	}
	fitObs, heldObs := cfg.Frames[:len(cfg.Frames)-nHeld], cfg.Frames[len(cfg.Frames)-nHeld:]
	fitH, err := forward(fitObs)
	if err != nil {
		return nil, err
	}
	heldH, err := forward(heldObs)
	if err != nil {
		return nil, err
	}
	fa := a
	fa.AdapterRank = cfg.Rank
	fa.AdapterContext = false // exits are plain adapters, whatever form the bundle's own adapters have
	fit := &Fit{Arch: fa, Exits: ExitLayers(a.Layers, cfg.Every), Adapters: map[int]*modelbuild.AdapterWeights{},
		Unexplained: map[int]float64{}, ChunkMAE: map[int]float64{}, Ridge: map[int]float64{}, Frames: len(fitObs)}
	for _, k := range fit.Exits[:len(fit.Exits)-1] {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		X, Y := exitProblem(a, fitH, k)
		Xh, Yh := exitProblem(a, heldH, k)
		w, ridge, _, err := modelbuild.FitLowRankResidual(X, Y, Xh, Yh, cfg.Rank)
		if err != nil {
			return nil, fmt.Errorf("earlyexit: exit after layer %d: %w", k, err)
		}
		fit.Adapters[k], fit.Ridge[k] = w, ridge
		// Held-out quality, through the same adapter and head code the reference model uses.
		ref := &modelbuild.Model{Arch: fa, Weights: cfg.Weights, Adapters: map[int]*modelbuild.AdapterWeights{k: w}}
		var num, den, mae float64
		T, K := a.Tokens(), a.Chunk
		for _, h := range heldH {
			est := ref.Adapter(k, h[k+1])
			for t := T - K; t < T; t++ {
				for d := 0; d < a.Hidden; d++ {
					e, base := est.At(t, d)-h[a.Layers].At(t, d), h[k+1].At(t, d)-h[a.Layers].At(t, d)
					num += e * e
					den += base * base
				}
			}
			exitChunk, fullChunk := ref.Head(est), ref.Head(h[a.Layers])
			for i := range exitChunk {
				mae += math.Abs(exitChunk[i]-fullChunk[i]) / float64(len(exitChunk)*len(heldH))
			}
		}
		fit.Unexplained[k], fit.ChunkMAE[k] = num/den, mae
	}
	return fit, nil
}

// exitProblem stacks, over the frames, the regression inputs [RMSNorm(h_{k+1}) 1] and targets
// h_L − h_{k+1}, one row per action-query token.
func exitProblem(a modelbuild.Arch, hiddens [][]*mat.Dense, k int) (X, Y *mat.Dense) {
	T, K, D := a.Tokens(), a.Chunk, a.Hidden
	X = mat.NewDense(len(hiddens)*K, D+1, nil)
	Y = mat.NewDense(len(hiddens)*K, D, nil)
	for i, h := range hiddens {
		in, out := h[k+1], h[a.Layers]
		for q := 0; q < K; q++ {
			t, row := T-K+q, i*K+q
			src := in.RawRowView(t)
			var ss float64
			for _, v := range src {
				ss += v * v
			}
			inv := 1 / math.Sqrt(ss/float64(D)+a.NormEps)
			x, y := X.RawRowView(row), Y.RawRowView(row)
			for d, v := range src {
				x[d] = v * inv
				y[d] = out.At(t, d) - v
			}
			x[D] = 1
		}
	}
	return X, Y
}

// Write writes one ONNX graph per exit adapter into dir (created if needed), in the bundle's adapter
// format, and returns the file of each exit layer (absolute paths).
func (f *Fit) Write(dir string) (map[int]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	files := map[int]string{}
	for _, k := range f.Exits[:len(f.Exits)-1] {
		path := filepath.Join(abs, fmt.Sprintf("exit_after_%02d.onnx", k))
		if _, err := modelbuild.AdapterGraph(f.Arch, k, f.Adapters[k]).WriteFile(path, onnxgraph.WriteOptions{}); err != nil {
			return nil, fmt.Errorf("earlyexit: %s: %w", path, err)
		}
		files[k] = path
	}
	return files, nil
}
