package nodecore

import (
	"time"

	"dysl_vla/msgs"
)

// The node core's publications convert one-to-one to the wire messages of package msgs; the ROS 2 glue
// and `dysl replay` encode these.

// Message returns c as dysl_vla/msg/ActionChunk.
func (c ActionChunk) Message() *msgs.ActionChunk {
	return &msgs.ActionChunk{
		Header:            c.Header,
		Sequence:          c.Sequence,
		StepDt:            msgs.DurationFromGo(c.StepDt),
		Steps:             uint32(c.Steps),
		ActionDim:         uint32(c.ActionDim),
		ActionNames:       c.ActionNames,
		Actions:           c.Actions,
		LayersExecuted:    uint32(c.LayersExecuted),
		LayersTotal:       uint32(c.LayersTotal),
		VerificationFired: c.VerificationFired,
		SkipRatio:         float32(c.SkipRatio),
		Strategy:          c.Strategy,
	}
}

// Message returns s as dysl_vla/msg/SkipStats.
func (s SkipStats) Message() *msgs.SkipStats {
	allow := make([]int32, len(s.AllowPoints))
	for i, a := range s.AllowPoints {
		allow[i] = int32(a)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return &msgs.SkipStats{
		Header:                s.Header,
		Sequence:              s.Sequence,
		LayersExecuted:        uint32(s.LayersExecuted),
		LayersSkipped:         uint32(s.LayersSkipped),
		LayersTotal:           uint32(s.LayersTotal),
		AdaptersRun:           uint32(s.AdaptersRun),
		ControllersEvaluated:  uint32(s.ControllersEvaluated),
		AllowPoints:           allow,
		Continuity:            s.Continuity,
		ContinuityDelta:       s.ContinuityDelta,
		ContinuityDefined:     s.ContinuityDefined,
		VerificationFired:     s.VerificationFired,
		LatencyMs:             ms(s.Latency),
		PrefixLatencyMs:       ms(s.PrefixLatency),
		LayersLatencyMs:       ms(s.LayersLatency),
		AdaptersLatencyMs:     ms(s.AdaptersLatency),
		ControllersLatencyMs:  ms(s.ControllersLatency),
		HeadLatencyMs:         ms(s.HeadLatency),
		VerificationLatencyMs: ms(s.VerificationLatency),
		Strategy:              s.Strategy,
	}
}

// Message returns d as diagnostic_msgs/msg/DiagnosticArray.
func (d DiagnosticArray) Message() *msgs.DiagnosticArray {
	out := &msgs.DiagnosticArray{Header: d.Header, Status: make([]msgs.DiagnosticStatus, len(d.Status))}
	for i, st := range d.Status {
		values := make([]msgs.KeyValue, len(st.Values))
		for j, kv := range st.Values {
			values[j] = msgs.KeyValue{Key: kv.Key, Value: kv.Value}
		}
		out.Status[i] = msgs.DiagnosticStatus{Level: msgs.DiagnosticLevel(st.Level), Name: st.Name,
			Message: st.Message, HardwareID: st.HardwareID, Values: values}
	}
	return out
}
