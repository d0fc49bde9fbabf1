package skipping

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// warmMachine is a DySL machine under the default configuration (N = 5, η1 = 0.05, η2 = 0.1) on a
// 6-layer stack (static 2 and 5) that has reported N constant actions, so C = 0 is defined and the
// next inference gates. Its controllers never skip during the warm-up.
func warmMachine(t *testing.T) *Machine {
	t.Helper()
	m, err := NewMachine(mustLayout(t, 6, 2, 5), DefaultConfig())
	require.NoError(t, err)
	for range m.Config().ContinuityWindow {
		tr, err := m.Plan().Walk(memRunner{0})
		require.NoError(t, err)
		require.False(t, m.Report([][]float64{{0}}, tr).Rerun)
	}
	require.Equal(t, 0.0, m.Last().Continuity)
	return m
}

// An action x away from the constant history changes C by -x/4 over a window of 5 (one distance of x
// among four): 0.28 gives ΔC = -0.07, between -η2 and -η1; 0.48 gives -0.12, beyond -η2.
const (
	betweenEtas = 0.28
	beyondEta2  = 0.48
)

// A drop between η1 and η2 moves the allow points but is no "drop" for verification's "first drop"
// rule (docs/ALGORITHM.md, ¬(ΔC_{t−1} < −η2)): the next inference may still verify. Reading it as a
// drop at η1 would leave a skipping pass that shows the real drop right after it unverified, and the
// robot would act on the skipped chunk at the critical moment.
func TestOnlyADropBeyondEta2SuppressesTheNextVerification(t *testing.T) {
	for _, c := range []struct {
		action    float64
		delta     float64
		mayVerify bool
	}{{betweenEtas, -0.07, true}, {beyondEta2, -0.12, false}} {
		m := warmMachine(t)
		require.True(t, m.MayVerify())
		tr, err := m.Plan().Walk(memRunner{0}) // nothing skipped: no verification, the chunk commits
		require.NoError(t, err)
		require.False(t, m.Report([][]float64{{c.action}}, tr).Rerun)
		require.InDelta(t, c.delta, m.Last().ContinuityDelta, 1e-12)
		require.Equal(t, c.mayVerify, m.MayVerify(), "after ΔC = %v", c.delta)
	}
}

// Verification fires on a skipping pass whose C' drops by more than η2, not η1: a drop between the two
// only moves the allow points. Firing at η1 would pay a second full pass on every moderate change,
// eating the compute the skipping saves and the node's control period.
func TestVerificationFiresBeyondEta2Only(t *testing.T) {
	for _, c := range []struct {
		action float64
		rerun  bool
	}{{betweenEtas, false}, {beyondEta2, true}} {
		m := warmMachine(t)
		tr, err := m.Plan().Walk(memRunner{1}) // the first gate of each segment jumps
		require.NoError(t, err)
		require.True(t, tr.SkippedAny())
		v := m.Report([][]float64{{c.action}}, tr)
		require.Equal(t, c.rerun, v.Rerun, "C' - C = %v", -c.action/4)
		if v.Rerun {
			require.Equal(t, FullPlan(m.Layout()).Steps, v.Plan.Steps)
		}
	}
}

// adapterBudget is a memRunner whose adapters fail after budget calls: a plan that loops instead of
// reaching the end of the stack fails the walk rather than hanging the test.
type adapterBudget struct {
	memRunner
	budget int
}

func (r *adapterBudget) RunAdapter(int) error {
	if r.budget--; r.budget < 0 {
		return errors.New("more adapters than the stack has layers: the walk loops")
	}
	return nil
}

// static_only jumps at the first layer of each segment that has a dynamic layer, and runs a segment
// that has none (a static layer 0, a static layer right after another) as it is. A jump at a static
// layer would continue at that same layer: the walk would loop forever and the node stop serving.
func TestStaticOnlyRunsASegmentWithoutDynamicLayers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Strategy = StrategyStaticOnly
	m, err := NewMachine(mustLayout(t, 7, 0, 3, 4, 6), cfg)
	require.NoError(t, err)
	p := m.Plan()
	require.Equal(t, []StepKind{StepRun, StepJump, StepRun, StepRun, StepRun, StepJump, StepRun}, p.Steps)
	tr, err := p.Walk(&adapterBudget{budget: 7})
	require.NoError(t, err)
	require.Equal(t, []int{0, 3, 4, 6}, tr.Executed)
	require.Equal(t, []int{1, 5}, tr.Adapters)
}

// A controller whose output equals τ exactly does not skip: it skips when the probability exceeds τ
// (docs/ALGORITHM.md: g_j(h_j) > τ). At τ = 0 ("never skip" as an operator sets it), reading ≥ would
// skip on every controller that outputs 0, the one value that says "run this layer".
func TestControllerAtTheThresholdRuns(t *testing.T) {
	l := mustLayout(t, 4, 3)
	for _, tau := range []float64{0, 0.5} {
		for _, kind := range []StepKind{StepGate, StepGateSkip} {
			p := FullPlan(&l)
			p.Threshold = tau
			p.Steps[0] = kind
			tr, err := p.Walk(memRunner{float32(tau)})
			require.NoError(t, err)
			require.Equal(t, []int{0, 1, 2, 3}, tr.Executed, "τ = %v, %v", tau, kind)
			require.Empty(t, tr.Skipped)
		}
	}
}
