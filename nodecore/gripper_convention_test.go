package nodecore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
)

// zeroOneGripper is the fixture's backend with a gripper column of 0..1: its first chunk opens (0.1)
// then closes (0.9), every later one closes (0.9) then opens (0.2).
type zeroOneGripper struct {
	*policytest.Fake
	chunks int
}

func (s *zeroOneGripper) RunHead(out []float32) error {
	if err := s.Fake.RunHead(out); err != nil {
		return err
	}
	out[1], out[3] = 0.9, 0.2 // (x, gripper) per action
	if s.chunks == 0 {
		out[1], out[3] = 0.1, 0.9
	}
	s.chunks++
	return nil
}

// gripper_open and gripper_closed reach the core's gripper_min_hold: with 0 and 1, the published
// chunks hold a 0..1 policy's 0.2 after its 0.9 closed for the second; with the defaults, 0.2 is a
// close too (above 0) and is published as predicted.
func TestGripperMinHoldReadsTheGripperParameters(t *testing.T) {
	publish := func(overrides map[string]paramserver.Value) [][]float32 {
		overrides[nodecore.ParamStrategy] = paramserver.String("full")
		overrides[nodecore.ParamGripperMinHold] = paramserver.Double(1)
		f := newFixture(t, func(fake *policytest.Fake) policy.Backend { return &zeroOneGripper{Fake: fake} }, overrides)
		f.core.SetInstruction("pick")
		var out [][]float32
		for i := range 3 {
			f.serve(time.Duration(i)*100*time.Millisecond, "cam")
			a := f.sink.chunks[i].Actions
			out = append(out, []float32{a[1], a[3]})
		}
		return out
	}
	require.Equal(t, [][]float32{{0.1, 0.9}, {0.9, 0.9}, {0.9, 0.9}}, publish(map[string]paramserver.Value{
		nodecore.ParamGripperOpen:   paramserver.Double(0),
		nodecore.ParamGripperClosed: paramserver.Double(1),
	}), "0 open, 1 closed: the opens within a second of the close at 100 ms are held")
	require.Equal(t, [][]float32{{0.1, 0.9}, {0.9, 0.2}, {0.9, 0.2}}, publish(map[string]paramserver.Value{}),
		"the bundles' convention: 0.1, 0.9 and 0.2 all close, nothing to hold")
}
