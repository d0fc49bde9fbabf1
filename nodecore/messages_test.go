package nodecore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// What the core publishes survives the wire: encoded with the msgs codecs, as the ROS 2 glue and replay
// do, and decoded back, the fields the operator reads are intact.
func TestPublicationsEncodeAsTheirMessages(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.core.SetInstruction("pick")
	f.warmUp()
	f.serve(0, "cam")
	d := f.core.Diagnostics(t0.Add(time.Second))

	t.Run("action chunk", func(t *testing.T) {
		c := f.sink.chunks[0]
		raw, err := msgs.Encode(nil, c)
		require.NoError(t, err)
		var got msgs.ActionChunk
		require.NoError(t, msgs.Decode(raw, &got))
		require.NoError(t, got.Validate())
		require.Equal(t, c.Header, got.Header)
		require.Equal(t, 100*time.Millisecond, got.StepDt.Go())
		require.Equal(t, []string{"x", "gripper"}, got.ActionNames)
		require.Equal(t, c.Actions, got.Actions)
		require.Equal(t, uint32(8), got.LayersTotal)
		require.InDelta(t, 0.75, got.SkipRatio, 1e-6)
	})
	t.Run("skip stats", func(t *testing.T) {
		s := f.sink.stats[0]
		raw, err := msgs.Encode(nil, s)
		require.NoError(t, err)
		var got msgs.SkipStats
		require.NoError(t, msgs.Decode(raw, &got))
		require.Equal(t, uint32(6), got.LayersSkipped)
		require.Len(t, got.AllowPoints, 2)
		require.Equal(t, "dysl", got.Strategy)
	})
	t.Run("diagnostics", func(t *testing.T) {
		raw, err := msgs.Encode(nil, d)
		require.NoError(t, err)
		var got msgs.DiagnosticArray
		require.NoError(t, msgs.Decode(raw, &got))
		require.Len(t, got.Status, 1)
		require.Equal(t, msgs.DiagnosticOK, got.Status[0].Level)
		require.Equal(t, "dysl_vla_node: inference", got.Status[0].Name)
		require.Equal(t, len(d.Status[0].Values), len(got.Status[0].Values))
	})
}
