package skipping

import (
	"fmt"
	"math"
	"strings"
)

// Strategy selects how an inference decides what to skip. The zero value is invalid.
type Strategy int

const (
	// StrategyDySL is the paper's method: allow points moved by continuity, controllers gate at and
	// after them, adapters jump to the next static layer, post-skip verification.
	StrategyDySL Strategy = 1 + iota
	// StrategyFull runs every layer (the baseline and the verification re-run).
	StrategyFull
	// StrategyStaticOnly runs only the static layers: each segment is replaced by its first adapter.
	StrategyStaticOnly
	// StrategyRandomSkip skips a fixed share (SkipRatio) of the dynamic layers, chosen at random for each
	// inference, with no adapter: the paper's "Random Skip" baseline.
	StrategyRandomSkip
	// StrategyFlexiDepth puts a controller before every dynamic layer and skips one layer at a time
	// (identity), the paper's "w/o dynamic-static" ablation.
	StrategyFlexiDepth
	// StrategyFixedRatio jumps through the adapter after running all but the last FixedRatioSkip of each
	// segment's dynamic layers, evaluating the controller there but ignoring it: the benchmark's fixed
	// DySL plans.
	StrategyFixedRatio
)

// strategies is the one table of strategies: its order is StrategyNames' order, and each entry's plan
// function is what Machine.Plan dispatches to, so a strategy cannot be listed without being planned or
// planned without being listed.
var strategies = []struct {
	strategy Strategy
	name     string
	// plan turns the full plan p into this strategy's first pass.
	plan func(m *Machine, p *Plan)
}{
	{StrategyDySL, "dysl", (*Machine).planDySL},
	{StrategyFull, "full", func(*Machine, *Plan) {}},
	{StrategyStaticOnly, "static_only", (*Machine).planStaticOnly},
	{StrategyRandomSkip, "random_skip", (*Machine).planRandomSkip},
	{StrategyFlexiDepth, "flexidepth", (*Machine).planFlexiDepth},
	{StrategyFixedRatio, "fixed_ratio", (*Machine).planFixedRatio},
}

// strategyIndex returns s's entry in strategies, or -1.
func strategyIndex(s Strategy) int {
	for i, e := range strategies {
		if e.strategy == s {
			return i
		}
	}
	return -1
}

func (s Strategy) String() string {
	if i := strategyIndex(s); i >= 0 {
		return strategies[i].name
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// StrategyNames lists the valid names, in a stable order, for help texts and error messages.
func StrategyNames() []string {
	out := make([]string, 0, len(strategies))
	for _, e := range strategies {
		out = append(out, e.name)
	}
	return out
}

// ParseStrategy is the inverse of String.
func ParseStrategy(name string) (Strategy, error) {
	for _, e := range strategies {
		if e.name == name {
			return e.strategy, nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (expected one of %s)", name, strings.Join(StrategyNames(), ", "))
}

// Config holds every threshold and switch of the decision logic. All of them may change between two
// inferences (ros2 param set); Validate lists every violation.
type Config struct {
	Strategy Strategy
	// ControllerThreshold is τ: a controller skips when its probability exceeds it. Range [0, 1].
	ControllerThreshold float64
	// ContinuityWindow is N, the number of executed actions continuity is computed over. Range [2, 64].
	ContinuityWindow int
	// EtaMove is η1: the continuity change that moves the allow points, and the adaptive stride's unit.
	EtaMove float64
	// EtaVerify is η2: the continuity drop that triggers post-skip verification.
	EtaVerify float64
	// Stride is how far a continuity drop moves the allow points: 0 means adaptive, ceil(|ΔC|/η1) (the
	// default and the paper's best); 1..64 is a constant stride (the paper's ablation).
	Stride int
	// Verification enables post-skip verification.
	Verification bool
	// PreSkipPrediction enables moving the allow points; when off they stay at the front of each segment
	// (the paper's "w/o pre-skip prediction" ablation).
	PreSkipPrediction bool
	// ExecutedActions is how many actions of each chunk the robot executes and so enter the continuity
	// history; 0 means the whole chunk.
	ExecutedActions int
	// SkipRatio is the share of dynamic layers skipped by StrategyRandomSkip and StrategyFixedRatio.
	SkipRatio float64
	// Seed pins the random skip baseline's choices.
	Seed int64
}

// DefaultConfig is the configuration of docs/ALGORITHM.md.
func DefaultConfig() Config {
	return Config{
		Strategy:            StrategyDySL,
		ControllerThreshold: 0.5,
		ContinuityWindow:    5,
		EtaMove:             0.05,
		EtaVerify:           0.1,
		Stride:              0,
		Verification:        true,
		PreSkipPrediction:   true,
		ExecutedActions:     0,
		SkipRatio:           0.5,
		Seed:                1,
	}
}

// Validate returns an error listing every out-of-range field, or nil.
func (c Config) Validate() error {
	var p []string
	if strategyIndex(c.Strategy) < 0 {
		p = append(p, fmt.Sprintf("strategy %v is not one of %s", c.Strategy, strings.Join(StrategyNames(), ", ")))
	}
	if !(c.ControllerThreshold >= 0 && c.ControllerThreshold <= 1) {
		p = append(p, fmt.Sprintf("controller_threshold (%v) must be in [0, 1]", c.ControllerThreshold))
	}
	if c.ContinuityWindow < 2 || c.ContinuityWindow > 64 {
		p = append(p, fmt.Sprintf("continuity_window (%d) must be in [2, 64]", c.ContinuityWindow))
	}
	if !(c.EtaMove > 0) || math.IsInf(c.EtaMove, 0) {
		p = append(p, fmt.Sprintf("eta_move (%v) must be > 0 and finite", c.EtaMove))
	}
	if !(c.EtaVerify > 0) || math.IsInf(c.EtaVerify, 0) {
		p = append(p, fmt.Sprintf("eta_verify (%v) must be > 0 and finite", c.EtaVerify))
	}
	if c.Stride < 0 || c.Stride > 64 {
		p = append(p, fmt.Sprintf("stride (%d) must be 0 (adaptive) or in [1, 64]", c.Stride))
	}
	if c.ExecutedActions < 0 {
		p = append(p, fmt.Sprintf("executed_actions (%d) must be >= 0 (0 = whole chunk)", c.ExecutedActions))
	}
	if !(c.SkipRatio >= 0 && c.SkipRatio <= 1) {
		p = append(p, fmt.Sprintf("skip_ratio (%v) must be in [0, 1]", c.SkipRatio))
	}
	if len(p) > 0 {
		return fmt.Errorf("skipping: invalid config: %s", strings.Join(p, "; "))
	}
	return nil
}

// String renders the configuration in one line, stable, so it can be recorded in bags and logs.
func (c Config) String() string {
	stride := "adaptive"
	if c.Stride > 0 {
		stride = fmt.Sprint(c.Stride)
	}
	return fmt.Sprintf("strategy=%v tau=%g window=%d eta_move=%g eta_verify=%g stride=%s verification=%t pre_skip=%t executed_actions=%d skip_ratio=%g seed=%d",
		c.Strategy, c.ControllerThreshold, c.ContinuityWindow, c.EtaMove, c.EtaVerify, stride,
		c.Verification, c.PreSkipPrediction, c.ExecutedActions, c.SkipRatio, c.Seed)
}
