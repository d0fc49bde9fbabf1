package nodecore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
)

// t0 is the fake clock's origin; frames are stamped from it and Step is called shortly after.
var t0 = time.Unix(1_700_000_000, 0)

// frame is a gray 4x4 rgb8 image stamped at t0 + at.
func frame(at time.Duration, frameID string, gray byte) msgs.Image {
	data := make([]byte, 4*4*3)
	for i := range data {
		data[i] = gray
	}
	return msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0.Add(at)), FrameID: frameID},
		Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: data}
}

// recorder is a Sink that keeps every publication and notice.
type recorder struct {
	mu        sync.Mutex
	chunks    []*msgs.ActionChunk
	stats     []*msgs.SkipStats
	diags     []*msgs.DiagnosticArray
	events    []nodecore.Event
	published chan struct{} // receives after every chunk, when non-nil
}

func (r *recorder) PublishActionChunk(c *msgs.ActionChunk) {
	r.mu.Lock()
	r.chunks = append(r.chunks, c)
	r.mu.Unlock()
	if r.published != nil {
		r.published <- struct{}{}
	}
}
func (r *recorder) PublishSkipStats(s *msgs.SkipStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = append(r.stats, s)
}
func (r *recorder) PublishDiagnostics(d *msgs.DiagnosticArray) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = append(r.diags, d)
}
func (r *recorder) Notice(e nodecore.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// eventsOf returns the recorded events of type E.
func eventsOf[E nodecore.Event](r *recorder) []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []E
	for _, e := range r.events {
		if ev, ok := e.(E); ok {
			out = append(out, ev)
		}
	}
	return out
}

// fixture is a Core on a real policy.Engine over a Fake backend, with a fake clock.
type fixture struct {
	fake   *policytest.Fake
	engine *policy.Engine
	params *paramserver.Server
	core   *nodecore.Core
	sink   *recorder
}

// newFixture builds the node with the backend wrap makes from the fake (nil: the fake itself) and
// start-up overrides as a params file or -p would give them.
func newFixture(t *testing.T, wrap func(*policytest.Fake) policy.Backend, overrides map[string]paramserver.Value) *fixture {
	t.Helper()
	return newFixtureOf(t, policytest.Manifest(), wrap, overrides)
}

// newFixtureOf is newFixture on the bundle m describes.
func newFixtureOf(t *testing.T, m *bundle.Manifest, wrap func(*policytest.Fake) policy.Backend, overrides map[string]paramserver.Value) *fixture {
	t.Helper()
	fake := policytest.NewFake(m)
	for j := range fake.SkipProb {
		fake.SkipProb[j] = 1 // every controller wants to skip
	}
	var backend policy.Backend = fake
	if wrap != nil {
		backend = wrap(fake)
	}
	engine := &policy.Engine{Manifest: m, Backend: backend, Now: func() time.Time { return t0 }}
	require.NoError(t, engine.Initialize())
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", overrides, func() time.Time { return t0 })
	require.NoError(t, err)
	sink := &recorder{}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: sink})
	require.NoError(t, err)
	t.Cleanup(core.Close)
	return &fixture{fake: fake, engine: engine, params: srv, core: core, sink: sink}
}

// warmUpFrames is how many inferences the fixture's engine runs in full at an episode's start: as
// many chunks as fill the continuity window (5 actions by default: three chunks of 2).
func (f *fixture) warmUpFrames() int {
	window, chunk := f.engine.SkippingConfig().ContinuityWindow, f.engine.Manifest.Dims.Chunk
	return (window + chunk - 1) / chunk
}

// warmUp serves the frames that run every layer at an episode's start (before t0), then forgets what
// they published, so that a test sees the controllers' skipping from its first frame on.
func (f *fixture) warmUp() {
	n := f.warmUpFrames()
	for i := range n {
		f.serve(-time.Duration(n-i)*100*time.Millisecond, "warm-up")
	}
	f.sink.mu.Lock()
	f.sink.chunks, f.sink.stats, f.sink.events = nil, nil, nil
	f.sink.mu.Unlock()
}

// serve offers a frame stamped at t0+at and steps 10 ms of clock later.
func (f *fixture) serve(at time.Duration, frameID string) {
	f.core.OfferFrame(frame(at, frameID, 100))
	f.core.Step(t0.Add(at + 10*time.Millisecond))
}

// value returns the diagnostic value under key in st, failing the test when absent.
func value(t *testing.T, st msgs.DiagnosticStatus, key string) string {
	t.Helper()
	v, ok := st.Value(key)
	require.True(t, ok, "%q not in %v", key, st.Values)
	return v
}

// fmtAny renders v with %#v, which prints NaN as NaN so two renderings of equal values are equal.
func fmtAny(v any) string { return fmt.Sprintf("%#v", v) }
