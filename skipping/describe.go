package skipping

import (
	"fmt"
	"math"
	"strings"
)

// Describe renders the statistics of one inference in one line; the engine example prints it and the
// scenario tests pin it, so what a test pins is what a user of the library reads.
func Describe(s Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "C=%s dC=%s allow=%v", fmtC(s.Continuity), fmtDelta(s.ContinuityDelta), s.AllowPoints)
	if fmt.Sprint(s.AllowPoints) != fmt.Sprint(s.NextAllowPoints) {
		fmt.Fprintf(&b, "->%v", s.NextAllowPoints)
	}
	fmt.Fprintf(&b, " exec=%d/%d skipped=%d adapters=%d controllers=%d", s.LayersExecuted, s.LayersTotal,
		s.LayersSkipped, s.AdaptersRun, s.ControllersEvaluated)
	if s.VerificationFired {
		b.WriteString(" verify")
	}
	return b.String()
}

// DescribePlan renders a plan as one letter per layer (R run, G gate, J jump, S skip, g gate-skip),
// segments separated by spaces after each static layer.
func DescribePlan(p Plan) string {
	var b strings.Builder
	for j, k := range p.Steps {
		b.WriteByte(map[StepKind]byte{StepRun: 'R', StepGate: 'G', StepJump: 'J', StepSkip: 'S', StepGateSkip: 'g'}[k])
		if p.layout != nil && p.layout.IsStatic(j) && j < len(p.Steps)-1 {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func fmtC(v float64) string {
	if math.IsNaN(v) {
		return "undef"
	}
	return fmt.Sprintf("%.3f", v)
}

func fmtDelta(v float64) string {
	if math.IsNaN(v) {
		return "undef"
	}
	return fmt.Sprintf("%+.3f", v)
}
