package nodecore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
)

// The live worker: while an inference is in progress, offered frames return at once and only the
// newest is kept; when the inference ends, the worker serves that newest frame. The slow inference is
// a gate the test opens, not a duration, so the test asserts order, never timing.
func TestRunnerServesTheLatestFrameWhileInferenceIsBusy(t *testing.T) {
	f, entered, gate := gatedFixture(t)
	f.sink.published = make(chan struct{}, 8)
	ticks := make(chan time.Time)
	clock := t0
	r := &nodecore.Runner{Core: f.core, Now: func() time.Time { return clock }, DiagnosticsTick: ticks}
	require.NoError(t, r.Initialize())
	defer r.Close()

	r.SetInstruction("pick")
	r.OfferFrame(frame(0, "cam", 100))
	<-entered // the worker is inside the first inference
	for i := 1; i <= 3; i++ {
		r.OfferFrame(frame(time.Duration(i)*10*time.Millisecond, "cam", 100))
	}
	close(gate)
	<-f.sink.published
	<-f.sink.published

	// The worker takes a tick only between two Steps, so the first report counts both chunks; the second
	// tick is accepted only once the first report is out.
	ticks <- t0
	ticks <- t0
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	require.Len(t, f.sink.chunks, 2)
	require.Equal(t, frame(0, "", 0).Header.Stamp, f.sink.chunks[0].Header.Stamp)
	require.Equal(t, frame(30*time.Millisecond, "", 0).Header.Stamp, f.sink.chunks[1].Header.Stamp)
	require.NotEmpty(t, f.sink.diags)
	require.Equal(t, "2", value(t, f.sink.diags[0].Status[0], "dropped frames (superseded)"))
	require.Equal(t, "2", value(t, f.sink.diags[0].Status[0], "chunks published"))
}

// Close stops the worker and returns; a second Close is harmless.
func TestRunnerCloseStopsTheWorker(t *testing.T) {
	f := newFixture(t, nil, nil)
	r := &nodecore.Runner{Core: f.core}
	require.NoError(t, r.Initialize())
	r.Close()
	r.Close()
	never := &nodecore.Runner{}
	require.Error(t, never.Initialize())
	never.Close() // a shutdown path that does not know how far start-up got
}

// A frame offered during an inference is not served once Close was called during that inference:
// after deactivate or shutdown, no chunk goes out. The frame and the Close are both waiting when the
// inference ends, and select would pick either at random, so the scenario runs many times.
func TestRunnerServesNoFrameAfterClose(t *testing.T) {
	for i := range 30 {
		f, entered, gate := gatedFixture(t)
		r := &nodecore.Runner{Core: f.core, Now: func() time.Time { return t0 }}
		require.NoError(t, r.Initialize())
		r.SetInstruction("pick")
		r.OfferFrame(frame(0, "cam", 100))
		<-entered
		r.OfferFrame(frame(10*time.Millisecond, "cam", 100))
		closed := make(chan struct{})
		go func() { r.Close(); close(closed) }()
		for !nodecore.RunnerClosing(r) { // the inference ends only once Close has told the worker
			time.Sleep(100 * time.Microsecond)
		}
		close(gate)
		<-closed
		f.sink.mu.Lock()
		n := len(f.sink.chunks)
		f.sink.mu.Unlock()
		require.Equal(t, 1, n, "run %d: chunks published; Close was called during the first inference", i)
	}
}

// gatedFixture is a fixture whose first inference waits for gate to close, once entered is closed:
// the test holds the worker inside an inference for as long as it needs, with no timing involved.
func gatedFixture(t *testing.T) (f *fixture, entered, gate chan struct{}) {
	entered, gate = make(chan struct{}), make(chan struct{})
	f = newFixture(t, func(fake *policytest.Fake) policy.Backend {
		faulty := policytest.NewFaulty(fake, policytest.Fault{Op: policytest.OpPrefix, Delay: time.Hour, Times: 1})
		faulty.Sleep = func(time.Duration) {
			close(entered)
			<-gate
		}
		return faulty
	}, nil)
	return f, entered, gate
}
