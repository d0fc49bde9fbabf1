package earlyexit

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// Runner runs a bundle with early exits on a policy engine, as one stepwise pass per observation: the
// prefix, then layers in order; at each exit layer k the engine peeks at the head through the exit
// adapter, leaving the pass where it stood. The pass stops at the first exit whose chunk agrees with
// the previous exit's (δ < Threshold). A Runner has no episode state and is not safe for concurrent use.
type Runner struct {
	// in
	// Engine must hold the exit adapters as its bundle's adapters, keyed by exit layer (Open arranges
	// that).
	Engine *policy.Engine
	// Exits are the exit layers, ascending, the last one being the bundle's last layer.
	Exits []int
	// Threshold is η of DeeR's L2 criterion on normalized actions; 0 never exits early.
	Threshold float64
}

// Result is one early-exit inference.
type Result struct {
	Chunk          [][]float64 // normalized actions, K rows of A
	Exit           int         // index into Runner.Exits of the exit taken
	LayersExecuted int
	ExitsRun       int           // exit adapters run (the last exit has none)
	Deltas         []float64     // δ_i for i = 1..Exit (index 0 is the first comparison, at exit 1)
	Total          time.Duration // the whole inference, preprocessing included
	// Inference is the engine's result: the chunk in the robot's units and the statistics.
	Inference policy.Result
}

// Open starts a backend with openBackend on the bundle in dir with the exit adapter graphs in files
// (exit layer → path, as Fit.Write returns them) in place of the bundle's adapters; controllers and the
// single graph are not loaded. The engine's clock is time.Now; set Runner.Engine.Now to change it.
func Open(dir string, files map[int]string, openBackend policy.BackendOpener, threshold float64) (*Runner, error) {
	b, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	m.Files.Adapters, m.Files.Controllers, m.Files.Full = map[int]string{}, map[int]string{}, ""
	exits := []int{}
	for k, f := range files {
		// The backend opens files relative to the bundle directory.
		rel, err := filepath.Rel(absDir, f)
		if err != nil {
			return nil, err
		}
		m.Files.Adapters[k] = rel
		exits = append(exits, k)
	}
	sort.Ints(exits)
	exits = append(exits, m.Dims.Layers-1)
	backend, err := openBackend(absDir, &m)
	if err != nil {
		return nil, err
	}
	r := &Runner{Engine: &policy.Engine{Manifest: &m, Backend: backend}, Exits: exits, Threshold: threshold}
	if err := r.Initialize(); err != nil {
		backend.Close()
		return nil, err
	}
	return r, nil
}

// Initialize checks the exits and initializes the engine.
func (r *Runner) Initialize() error {
	if r.Engine == nil || r.Engine.Manifest == nil {
		return errors.New("earlyexit: Runner needs an Engine with a Manifest")
	}
	L := r.Engine.Manifest.Dims.Layers
	if len(r.Exits) == 0 || r.Exits[len(r.Exits)-1] != L-1 || !slices.IsSorted(r.Exits) {
		return fmt.Errorf("earlyexit: exits %v must be ascending and end at the last layer %d", r.Exits, L-1)
	}
	if !(r.Threshold >= 0) {
		return fmt.Errorf("earlyexit: threshold (%v) must be >= 0", r.Threshold)
	}
	return r.Engine.Initialize()
}

// Infer runs one observation.
func (r *Runner) Infer(obs policy.Observation) (Result, error) {
	return r.run(obs, false)
}

// Profile runs every exit of one observation, never stopping early, and returns δ_i for every exit
// i ≥ 1: what MatchThreshold needs to pick η.
func (r *Runner) Profile(obs policy.Observation) ([]float64, error) {
	res, err := r.run(obs, true)
	return res.Deltas, err
}

func (r *Runner) run(obs policy.Observation, all bool) (Result, error) {
	var res Result
	inference, err := r.Engine.InferStepwise(obs, func(p *policy.Pass) ([][]float64, error) {
		var prev [][]float64
		next := 0
		for i, k := range r.Exits {
			for ; next <= k; next++ {
				if err := p.RunLayer(next); err != nil {
					return nil, fmt.Errorf("earlyexit: %w", err)
				}
			}
			last := i == len(r.Exits)-1
			adapter := k
			if last {
				adapter = policy.NoAdapter // the deepest exit is the head itself
			}
			chunk, err := p.Peek(adapter)
			if err != nil {
				return nil, fmt.Errorf("earlyexit: exit %d, after layer %d: %w", i, k, err)
			}
			stop := last
			if prev != nil {
				delta := Delta(slices.Concat(chunk...), slices.Concat(prev...))
				res.Deltas = append(res.Deltas, delta)
				stop = stop || (!all && delta < r.Threshold)
			}
			prev = chunk
			if stop {
				res.Exit = i
				break
			}
		}
		res.Chunk = prev
		return prev, nil
	})
	if err != nil {
		return res, err
	}
	res.Inference = inference
	s := inference.Stats
	res.LayersExecuted, res.ExitsRun, res.Total = s.LayersExecuted, s.AdaptersRun, s.Timing.Total
	return res, nil
}

// Close releases the engine and its backend.
func (r *Runner) Close() error { return r.Engine.Close() }

// Delta is DeeR's L2 criterion: sqrt(mean (a − b)²) over all values of two chunks.
func Delta(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(a)))
}

// ExitFor returns the exit index a threshold selects given the δ profile of one observation (δ_i for
// exits 1..n-1, as Profile returns them): the first i ≥ 1 with δ_i < η, else the last exit.
func ExitFor(deltas []float64, threshold float64) int {
	for i, d := range deltas {
		if d < threshold {
			return i + 1
		}
	}
	return len(deltas)
}

// MatchThreshold picks the η whose mean executed layers over the profiled observations is closest to
// target (ties: the smaller η, i.e. the deeper exits), and returns it with that mean. Candidates are 0
// and every midpoint between consecutive distinct profiled δ values and one above the largest.
func MatchThreshold(profiles [][]float64, exits []int, target float64) (threshold, meanLayers float64) {
	var values []float64
	for _, p := range profiles {
		values = append(values, p...)
	}
	sort.Float64s(values)
	values = slices.Compact(values)
	candidates := []float64{0}
	for i := range values {
		if i+1 < len(values) {
			candidates = append(candidates, (values[i]+values[i+1])/2)
		} else {
			candidates = append(candidates, values[i]*2+1)
		}
	}
	mean := func(eta float64) float64 {
		var sum float64
		for _, p := range profiles {
			sum += float64(exits[ExitFor(p, eta)] + 1)
		}
		return sum / float64(max(1, len(profiles)))
	}
	best, bestErr := 0.0, math.Inf(1)
	for _, c := range candidates {
		if e := math.Abs(mean(c) - target); e < bestErr {
			best, bestErr = c, e
		}
	}
	return best, mean(best)
}
