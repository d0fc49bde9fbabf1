package replay

import (
	"fmt"
	"strconv"
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
)

// recorder is the node core's Sink during a replay: it writes publications into the output bag, stamped
// with the log time of the input message being served, and keeps what the report needs. Every input
// message ends in exactly one outcome: acted on (a chunk published), or one Skip with its reason.
type recorder struct {
	out        *bag.Writer
	chunkTopic string // where the chunks are written: action_chunk_topic, resolved
	logTime    int64  // output log time of what is published now
	writeErr   error
	buf        []byte

	steps           []Step
	skips           []Skip
	chunks          []msgs.ActionChunk
	keepChunks      bool // Config.KeepChunks
	forwardFailures int
	// controllersOutOfRange is the core's count in its last diagnostics (PublishDiagnostics).
	controllersOutOfRange int
	start                 int64 // log time of the first input message
	started               bool

	// The input message being served.
	topic     string
	frame     bool           // it is an image
	published bool           // a chunk was published for it
	notice    nodecore.Event // the first notice about it
	frameStep *Step          // its step, once its stats are published
	lastChunk *msgs.ActionChunk
}

// addTopics adds the output topics, the chunks on chunkTopic (action_chunk_topic, resolved), each
// with the QoS the node offers on it: a recording of the live node would hold the same.
func (r *recorder) addTopics(chunkTopic string) error {
	r.chunkTopic = chunkTopic
	for _, t := range []struct {
		name, typ string
		qos       bag.QoS
	}{
		{chunkTopic, "dysl_vla/msg/ActionChunk", bag.QoSDefault},
		{TopicSkipStats, "dysl_vla/msg/SkipStats", bag.QoSDefault},
		// /diagnostics: reliable, keep last 1 (docs/ROS.md).
		{TopicDiagnostics, "diagnostic_msgs/msg/DiagnosticArray", bag.QoS{History: bag.KeepLast, Depth: 1, Reliability: bag.Reliable, Durability: bag.Volatile}},
	} {
		info, ok := msgs.Lookup(t.typ)
		if !ok {
			return fmt.Errorf("replay: no schema for %s", t.typ)
		}
		if err := r.out.AddTopic(bag.Topic{Name: t.name, Type: t.typ, Definition: info.Schema, QoS: []bag.QoS{t.qos}}); err != nil {
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
		err = r.out.Write(topic, r.logTime, r.buf)
	}
	if err != nil {
		r.writeErr = fmt.Errorf("replay: writing %s: %w", topic, err)
	}
}

// begin starts serving an input message.
func (r *recorder) begin(m bag.Message, frame bool) {
	if !r.started {
		r.start, r.started = m.LogTime, true
	}
	r.logTime = m.LogTime
	r.topic, r.frame = m.Topic, frame
	r.published, r.notice, r.frameStep, r.lastChunk = false, nil, nil, nil
}

// settle records the outcome of the message being served: a frame that published no chunk, or any
// message the core reported a problem with, becomes one Skip.
func (r *recorder) settle() {
	switch {
	case r.published:
	case r.notice != nil:
		sk := Skip{Kind: skipKindOf(r.notice), Reason: r.notice.String()}
		if stale, ok := r.notice.(nodecore.EventFrameStale); ok {
			sk.Age, sk.Unstamped = stale.Age, stale.Stamp.IsZero()
		}
		r.skip(sk)
	case r.frame:
		r.skip(Skip{Kind: SkipOther, Reason: "not acted on, no reason given"})
	}
}

// skip records the message being served as not acted on.
func (r *recorder) skip(sk Skip) {
	sk.BagTime = time.Duration(r.logTime - r.start)
	sk.Topic, sk.Frame = r.topic, r.frame
	r.skips = append(r.skips, sk)
}

// PublishActionChunk implements nodecore.Sink.
func (r *recorder) PublishActionChunk(c *msgs.ActionChunk) {
	r.write(r.chunkTopic, c)
	if r.keepChunks {
		r.chunks = append(r.chunks, *c)
	}
	r.lastChunk = c
	r.published = true
}

// PublishSkipStats implements nodecore.Sink.
func (r *recorder) PublishSkipStats(s *msgs.SkipStats) {
	r.write(TopicSkipStats, s)
	allow := make([]int, len(s.AllowPoints))
	for i, a := range s.AllowPoints {
		allow[i] = int(a)
	}
	r.steps = append(r.steps, Step{
		Index: len(r.steps), BagTime: time.Duration(r.logTime - r.start),
		LatencyMs: s.LatencyMs, PrefixMs: s.PrefixLatencyMs, LayersMs: s.LayersLatencyMs,
		AdaptersMs: s.AdaptersLatencyMs, ControllersMs: s.ControllersLatencyMs, HeadMs: s.HeadLatencyMs,
		VerificationMs: s.VerificationLatencyMs,
		LayersExecuted: int(s.LayersExecuted), LayersTotal: int(s.LayersTotal), SkipRatio: r.skipRatio(),
		Continuity: s.Continuity, ContinuityDelta: s.ContinuityDelta,
		AllowPoints: allow, Verification: s.VerificationFired,
	})
	r.frameStep = &r.steps[len(r.steps)-1]
}

// skipRatio is the skip ratio the node published with the frame's chunk (skipping.Stats.SkipRatio,
// its one definition), which the core publishes before the frame's stats.
func (r *recorder) skipRatio() float64 {
	if r.lastChunk == nil {
		return 0
	}
	return float64(r.lastChunk.SkipRatio)
}

// PublishDiagnostics implements nodecore.Sink. It keeps the core's count of controller outputs out of
// range, which no per-frame message carries, from the node's status (the first).
func (r *recorder) PublishDiagnostics(d *msgs.DiagnosticArray) {
	r.write(TopicDiagnostics, d)
	if len(d.Status) == 0 {
		return
	}
	for _, kv := range d.Status[0].Values {
		if kv.Key == nodecore.DiagnosticControllersOutOfRange {
			if n, err := strconv.Atoi(kv.Value); err == nil {
				r.controllersOutOfRange = n
			}
		}
	}
}

// diagnosticsAt has the core publish its diagnostics, stamped at node time at, into the output bag
// at log time logTime.
func (r *recorder) diagnosticsAt(core *nodecore.Core, at time.Time, logTime int64) {
	saved := r.logTime
	r.logTime = logTime
	core.Diagnostics(at)
	r.logTime = saved
}

// Notice implements nodecore.Sink. A chunk that was published but not forwarded is an acted-on frame
// with a link problem, not a skipped one; the new-instruction notice is no problem at all.
func (r *recorder) Notice(e nodecore.Event) {
	switch e.(type) {
	case nodecore.EventInstruction, nodecore.EventTimeWentBack:
		return
	case nodecore.EventForwardFailed:
		r.forwardFailures++
		return
	case nodecore.EventParametersNotApplied:
		return // about the node, not about the message being served
	}
	if r.notice == nil {
		r.notice = e
	}
}

func skipKindOf(e nodecore.Event) SkipKind {
	switch e.(type) {
	case nodecore.EventFrameStale:
		return SkipStale
	case nodecore.EventNoInstruction:
		return SkipNoInstruction
	case nodecore.EventNoClock:
		return SkipNoClock
	case nodecore.EventNoState:
		return SkipNoState
	case nodecore.EventBadFrame:
		return SkipBadFrame
	case nodecore.EventInferenceFailed:
		return SkipInferenceFailed
	case nodecore.EventNonFiniteAction:
		return SkipNonFinite
	case nodecore.EventDecodeError:
		return SkipDecodeError
	case nodecore.EventFrameSuperseded:
		return SkipSuperseded
	}
	return SkipOther
}
