package replay

import (
	"fmt"
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
)

// recorder is the node core's Sink during a replay: it writes publications into the output bag, stamped
// with the bag time of the frame being served, and keeps what the report needs.
type recorder struct {
	out      *bag.Writer
	now      time.Time
	writeErr error
	buf      []byte

	steps     []Step
	skips     []Skip
	chunks    []msgs.ActionChunk
	start     time.Time
	frameStep *Step             // the step of the frame being served, once its stats are published
	lastChunk *msgs.ActionChunk // the chunk of the frame being served
}

var outputTopics = []struct{ name, typ string }{
	{TopicActionChunk, "dysl_vla/msg/ActionChunk"},
	{TopicSkipStats, "dysl_vla/msg/SkipStats"},
	{TopicDiagnostics, "diagnostic_msgs/msg/DiagnosticArray"},
}

func (r *recorder) addTopics() error {
	for _, t := range outputTopics {
		info, ok := msgs.Lookup(t.typ)
		if !ok {
			return fmt.Errorf("replay: no schema for %s", t.typ)
		}
		if err := r.out.AddTopic(bag.Topic{Name: t.name, Type: t.typ, Definition: info.Schema}); err != nil {
			return err
		}
	}
	return nil
}

func (r *recorder) write(topic string, m msgs.Message) {
	if r.writeErr != nil {
		return
	}
	var err error
	if r.buf, err = msgs.Encode(r.buf[:0], m); err == nil {
		err = r.out.Write(topic, r.now.UnixNano(), r.buf)
	}
	if err != nil {
		r.writeErr = fmt.Errorf("replay: writing %s: %w", topic, err)
	}
}

func (r *recorder) skip(topic, reason string) {
	if r.start.IsZero() {
		r.start = r.now
	}
	r.skips = append(r.skips, Skip{BagTime: r.now.Sub(r.start), Topic: topic, Reason: reason})
}

// PublishActionChunk implements nodecore.Sink.
func (r *recorder) PublishActionChunk(c *msgs.ActionChunk) {
	r.write(TopicActionChunk, c)
	r.chunks = append(r.chunks, *c)
	r.lastChunk = c
}

// PublishSkipStats implements nodecore.Sink.
func (r *recorder) PublishSkipStats(s *msgs.SkipStats) {
	r.write(TopicSkipStats, s)
	if r.start.IsZero() {
		r.start = r.now
	}
	ratio := 0.0
	if s.LayersTotal > 0 {
		ratio = float64(s.LayersSkipped) / float64(s.LayersSkipped+s.LayersExecuted)
	}
	allow := make([]int, len(s.AllowPoints))
	for i, a := range s.AllowPoints {
		allow[i] = int(a)
	}
	r.steps = append(r.steps, Step{
		Index: len(r.steps), BagTime: r.now.Sub(r.start),
		LatencyMs: s.LatencyMs, PrefixMs: s.PrefixLatencyMs, LayersMs: s.LayersLatencyMs,
		AdaptersMs: s.AdaptersLatencyMs, ControllersMs: s.ControllersLatencyMs, HeadMs: s.HeadLatencyMs,
		VerificationMs: s.VerificationLatencyMs,
		LayersExecuted: int(s.LayersExecuted), LayersTotal: int(s.LayersTotal), SkipRatio: ratio,
		Continuity: s.Continuity, ContinuityDelta: s.ContinuityDelta,
		AllowPoints: allow, Verification: s.VerificationFired,
	})
	r.frameStep = &r.steps[len(r.steps)-1]
}

// PublishDiagnostics implements nodecore.Sink.
func (r *recorder) PublishDiagnostics(d *msgs.DiagnosticArray) {
	r.write(TopicDiagnostics, d)
}

// diagnosticsAt has the core publish its diagnostics (through this sink) stamped at bag time at.
func (r *recorder) diagnosticsAt(core *nodecore.Core, at time.Time) {
	saved := r.now
	r.now = at
	core.Diagnostics(at)
	r.now = saved
}

// Notice implements nodecore.Sink: frames not acted on become report entries.
func (r *recorder) Notice(e nodecore.Event) {
	switch e.(type) {
	case nodecore.EventInstruction:
		return
	}
	r.skip("", fmt.Sprint(e))
}
