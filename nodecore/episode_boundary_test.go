package nodecore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy/policytest"
)

// A frame stamped exactly a second before the last one served still belongs to the episode: only
// "more than a second before" (docs/ALGORITHM.md) starts a new one, and a nanosecond more does.
func TestTimeGoingBackByExactlyASecondKeepsTheEpisode(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{
		nodecore.ParamExecutedActions:  paramserver.Integer(1),
		nodecore.ParamContinuityWindow: paramserver.Integer(2),
	})
	f.core.SetInstruction("pick")
	f.serve(0, "cam")
	f.serve(100*time.Millisecond, "cam") // C defined from here on
	f.serve(100*time.Millisecond-time.Second, "cam")
	require.Empty(t, eventsOf[nodecore.EventTimeWentBack](f.sink), "exactly 1 s back")
	f.serve(-900*time.Millisecond-time.Second-time.Nanosecond, "cam")
	require.Len(t, eventsOf[nodecore.EventTimeWentBack](f.sink), 1, "1 s and 1 ns back")
	require.Equal(t, []bool{false, true, true, false}, continuityDefined(f.sink.stats), "the history was cleared only at the second")
}

// A frame so bright that the image balance stops at its lower limit (gain 0.5: a median of 255 against
// the bundle's 127.5) warns, as the upper limit does (TestDiagnosticsReportTheImageBalance); a frame
// one grey level darker is within reach of the balance.
func TestDiagnosticsWarnAtTheLowerBalanceLimit(t *testing.T) {
	m := policytest.Manifest()
	m.Image.Balance = []float64{0.5, 0.5, 0.5}
	f := newFixtureOf(t, m, nil, nil)
	f.core.Diagnostics(t0)
	f.core.SetInstruction("pick")
	for i, c := range []struct {
		gray  byte
		level msgs.DiagnosticLevel
		gain  string
	}{{255, msgs.DiagnosticWarn, "0.50 0.50 0.50"}, {254, msgs.DiagnosticOK, "0.50 0.50 0.50"}} {
		at := time.Duration(i) * time.Second
		f.core.OfferFrame(frame(at, "cam", c.gray))
		f.core.Step(t0.Add(at + 10*time.Millisecond))
		st := f.core.Diagnostics(t0.Add(at + time.Second)).Status[0]
		require.Equal(t, c.level, st.Level, "grey %d: %s", c.gray, st.Message)
		require.Equal(t, c.gain, value(t, st, "image balance gain (r g b)"))
	}
	require.Len(t, f.sink.chunks, 2, "both frames are served")
}
