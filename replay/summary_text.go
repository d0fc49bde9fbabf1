package replay

import (
	"fmt"
	"io"
)

// WriteSummary prints the summary in a few lines for a terminal.
func WriteSummary(w io.Writer, s Summary) {
	if s.StoppedEarly != "" {
		fmt.Fprintf(w, "STOPPED before the end of the bag: %s; what follows covers the messages before it\n", s.StoppedEarly)
	}
	for _, warning := range s.BagWarnings {
		fmt.Fprintf(w, "input bag: %s\n", warning)
	}
	if s.Camera != "" {
		fmt.Fprintf(w, "camera: %s\n", s.Camera)
	}
	if s.CameraNote != "" {
		fmt.Fprintf(w, "camera: %s\n", s.CameraNote)
	}
	fmt.Fprintf(w, "frames acted on %d, not acted on %d\n", s.Frames, s.Skipped)
	for _, kind := range s.skipKinds() {
		fmt.Fprintf(w, "  %s: %d", kind, s.SkippedBy[kind])
		if kind == SkipStale && s.Unstamped > 0 {
			fmt.Fprintf(w, " (%d with header.stamp 0)", s.Unstamped)
		}
		if kind == SkipStale && s.Unstamped < s.SkippedBy[SkipStale] {
			fmt.Fprintf(w, " (age min %v, median %v, max %v; node clock: %s)", s.StaleAgeMin, s.StaleAgeMedian, s.StaleAgeMax, s.Clock)
		}
		fmt.Fprintln(w)
	}
	if s.DroppedMessages > 0 {
		fmt.Fprintf(w, "other input messages not acted on: %d\n", s.DroppedMessages)
	}
	if s.ForwardFailures > 0 {
		fmt.Fprintf(w, "chunks published but not forwarded: %d\n", s.ForwardFailures)
	}
	if s.ControllersOutOfRange > 0 {
		fmt.Fprintf(w, "controller outputs out of range: %d (NaN, or outside [0, 1]): the controllers' decisions are no probabilities, "+
			"they are broken or not this bundle's; `dysl model check` runs them\n", s.ControllersOutOfRange)
	}
	if s.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", s.Hint)
	}
	if s.Frames == 0 {
		return
	}
	fmt.Fprintf(w, "latency mean %.2f ms, p50 %.2f, p95 %.2f, max %.2f\n", s.MeanLatency, s.LatencyP50, s.LatencyP95, s.LatencyMax)
	fmt.Fprintf(w, "executed layers %.2f a frame (verification re-runs included), of %.0f a pass (skip ratio %.1f%%), verification rate %.1f%%\n",
		s.MeanExecutedLayers, s.LayersTotal, 100*s.SkipRatio, 100*s.VerificationRate)
	if s.Compared {
		fmt.Fprintf(w, "full model mean %.2f ms: speedup %.2fx; action error vs full mean %.4f (max %.4f); gripper agreement %.1f%%\n",
			s.FullMeanLatency, s.Speedup, s.ActionMAE, s.ActionMAEMax, 100*s.GripperAgreement)
	}
	if s.DecodeFramesPerSecond > 0 {
		fmt.Fprintf(w, "bag decoding alone: %.0f frames/s\n", s.DecodeFramesPerSecond)
	}
}

// WriteResult prints a replay's summary, when it got as far as the bag's messages, and where its
// report and output bag are, those it wrote.
func WriteResult(w io.Writer, r Result) {
	if r.Summary.Frames+r.Summary.Skipped == 0 && r.ReportPath == "" {
		return
	}
	WriteSummary(w, r.Summary)
	if r.ReportPath != "" {
		fmt.Fprintf(w, "report: %s\n", r.ReportPath)
	}
	if r.OutBag != "" {
		fmt.Fprintf(w, "output bag: %s\n", r.OutBag)
	}
}
