package nodecore

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"dysl_vla/msgs"
	"dysl_vla/percentile"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// totals count since start-up.
type totals struct {
	received, superseded, stale, noInstruction, badFrames, failures, nonFinite, decodeErrors, noClock uint64
	controllersOutOfRange                                                                             uint64
	forwardFailures, published                                                                        uint64
	states, noState                                                                                   uint64
	timeRewinds                                                                                       uint64 // episodes restarted as time went back
}

// window gathers what happened since the last diagnostics report.
type window struct {
	inferences int
	latencies  []time.Duration
	// decodes are the decode times of the compressed frames served (image_transport compressed).
	decodes       []time.Duration
	skipRatioSum  float64
	executedSum   int
	verifications int
	// controllersOutOfRange counts controller outputs that were NaN or outside [0, 1].
	controllersOutOfRange int
	// lastContinuity is the last defined C_t of the period.
	lastContinuity float64
	haveContinuity bool
	// lastImageGain is what the image balance multiplied the last served frame's channels by.
	lastImageGain [3]float64
	// lastTruncated says the last served frame's instruction was longer than the model's token input.
	lastTruncated bool

	stale, badFrames, failures, nonFinite, noClock, noState int
	lastError, lastWarning                                  string
	// lastStateProblem says why the last frame without a usable robot state was not acted on.
	lastStateProblem string
	// lastStaleAge is the age of the last frame dropped as stale; lastStaleUnstamped says that frame had
	// no stamp at all.
	lastStaleAge       time.Duration
	lastStaleUnstamped bool
}

func (w *window) add(skipRatio float64, s policy.Stats) {
	w.inferences++
	w.latencies = append(w.latencies, s.Timing.Total)
	w.skipRatioSum += skipRatio
	w.executedSum += s.LayersExecuted
	w.controllersOutOfRange += s.ControllersOutOfRange
	if s.VerificationFired {
		w.verifications++
	}
	if !math.IsNaN(s.Continuity) {
		w.lastContinuity, w.haveContinuity = s.Continuity, true
	}
	w.lastImageGain = s.ImageGain
	w.lastTruncated = s.InstructionTruncated
}

func gainText(g [3]float64) string {
	return fmt.Sprintf("%.2f %.2f %.2f", g[0], g[1], g[2])
}

// balanceAtLimit says whether the image balance could not bring some channel of the frame to the
// training frames' light: its gain stopped at a limit.
func balanceAtLimit(gain [3]float64) bool {
	for _, g := range gain {
		if g <= bundle.MinBalanceGain || g >= bundle.MaxBalanceGain {
			return true
		}
	}
	return false
}

// balanceSpreadWarn is how far apart (as a ratio, bundle.BalanceSpread) the image balance's channel
// gains may lie before the diagnostics warn. A change of light brightens or dims every channel alike,
// so the gains agree: on the simulated tabletop, with its light, noise and up to eight blocks and
// pads, they lie within 2% of each other (modelbuild's TestImageSpecGainsAgreeOnTheTabletop holds
// them under 5%). Gains that disagree mean the frame's median colour is not the background's hue (the
// table does not fill most of the view: an arm or a box close to the lens) or the light is coloured;
// either way the model's input is mis-corrected. The 25% allows for a real camera's white-balance
// drift; it has not been measured on one.
const balanceSpreadWarn = 1.25

// Diagnostics builds the node's diagnostic statuses for the period since the previous call, publishes
// them through the Sink and returns them; the edge calls it every diagnostic_updater.period (replay: at
// bag time). The inference status is ERROR when an inference failed or a chunk was refused in the
// period, WARN when frames were dropped as stale or bad or for want of a robot state, a controller
// answered no probability, the image balance could not correct the last frame, no frame was served,
// or no instruction is in force, OK otherwise.
func (c *Core) Diagnostics(now time.Time) *msgs.DiagnosticArray {
	c.mu.Lock()
	w := c.win
	c.win = window{}
	t := c.totals
	topics := c.topics
	instruction, withdrawn := c.instruction, c.withdrawn
	elapsed := time.Duration(0)
	if !c.lastReport.IsZero() {
		elapsed = now.Sub(c.lastReport)
	}
	c.lastReport = now
	c.mu.Unlock()

	live := c.live.Load()
	status := msgs.DiagnosticStatus{
		Name:       c.cfg.NodeName + ": inference",
		HardwareID: c.settings.HardwareID,
	}
	switch {
	case w.failures > 0 || w.nonFinite > 0:
		status.Level, status.Message = msgs.DiagnosticError, w.lastError
	case instruction == "":
		status.Level, status.Message = msgs.DiagnosticWarn, "waiting for an instruction on "+topics.instruction
		if withdrawn {
			status.Message += " (an empty one withdrew the last)"
		}
	case w.noClock > 0:
		status.Level = msgs.DiagnosticWarn
		status.Message = fmt.Sprintf("%d frames not acted on: use_sim_time is true and nothing is published on /clock", w.noClock)
	case w.stale > 0:
		status.Level = msgs.DiagnosticWarn
		status.Message = staleMessage(w.stale, w.lastStaleAge, live.MaxImageAge, c.settings.UseSimTime, w.lastStaleUnstamped)
	case w.noState > 0:
		status.Level = msgs.DiagnosticWarn
		status.Message = fmt.Sprintf("%d frames not acted on: %s", w.noState, w.lastStateProblem)
	case w.badFrames > 0:
		status.Level, status.Message = msgs.DiagnosticWarn, w.lastWarning
	case w.controllersOutOfRange > 0:
		status.Level = msgs.DiagnosticWarn
		status.Message = fmt.Sprintf("%d controller outputs were no probability (NaN, which runs the layer, or outside [0, 1]): "+
			"the controller graphs are broken or not this bundle's; `dysl model check` runs them", w.controllersOutOfRange)
	case w.inferences > 0 && balanceAtLimit(w.lastImageGain):
		status.Level = msgs.DiagnosticWarn
		status.Message = fmt.Sprintf("camera frames are lit far from the model's training frames: the image balance stopped at gain %s "+
			"(limits %g to %g; manifest image.balance); check the camera's exposure and lens", gainText(w.lastImageGain), bundle.MinBalanceGain, bundle.MaxBalanceGain)
	case w.inferences > 0 && bundle.BalanceSpread(w.lastImageGain) > balanceSpreadWarn:
		status.Level = msgs.DiagnosticWarn
		status.Message = fmt.Sprintf("the image balance's channel gains disagree (%s, more than %g apart): the frame's median colour is not "+
			"the background's (manifest image.balance); the background may not fill most of the view, or the light is coloured, "+
			"and the model's input is mis-corrected", gainText(w.lastImageGain), balanceSpreadWarn)
	case w.inferences == 0:
		status.Level, status.Message = msgs.DiagnosticWarn, "no frame served on "+topics.image
	default:
		status.Level, status.Message = msgs.DiagnosticOK, "acting"
	}

	kv := func(k, v string) { status.Values = append(status.Values, msgs.KeyValue{Key: k, Value: v}) }
	count := func(k string, n uint64) { kv(k, strconv.FormatUint(n, 10)) }
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	kv("model", c.cfg.Engine.Manifest.Name)
	kv("provider", c.settings.ExecutionProvider)
	kv("strategy", live.Skipping.Strategy.String())
	kv("instruction", quoteShort(instruction))
	switch {
	case w.inferences == 0:
		kv("instruction truncated", "n/a")
	case w.lastTruncated:
		kv("instruction truncated", fmt.Sprintf("yes: the model reads its first %d tokens (dims.instruction_tokens)", c.cfg.Engine.Manifest.Dims.InstructionTokens))
	default:
		kv("instruction truncated", "no")
	}
	kv("inferences in period", strconv.Itoa(w.inferences))
	if elapsed > 0 {
		kv("inference rate (Hz)", strconv.FormatFloat(float64(w.inferences)/elapsed.Seconds(), 'f', 2, 64))
	} else {
		kv("inference rate (Hz)", "n/a")
	}
	if w.inferences > 0 {
		n := float64(w.inferences)
		kv("skip ratio", strconv.FormatFloat(w.skipRatioSum/n, 'f', 3, 64))
		kv("mean executed layers", strconv.FormatFloat(float64(w.executedSum)/n, 'f', 2, 64))
		kv("verification rate", strconv.FormatFloat(float64(w.verifications)/n, 'f', 3, 64))
		slices.Sort(w.latencies)
		kv("latency p50 (ms)", ms(percentile.Sorted(w.latencies, 0.50)))
		kv("latency p95 (ms)", ms(percentile.Sorted(w.latencies, 0.95)))
		kv("latency max (ms)", ms(w.latencies[len(w.latencies)-1]))
	} else {
		for _, k := range []string{"skip ratio", "mean executed layers", "verification rate",
			"latency p50 (ms)", "latency p95 (ms)", "latency max (ms)"} {
			kv(k, "n/a")
		}
	}
	if c.settings.ImageTransport == ImageTransportCompressed {
		if len(w.decodes) > 0 {
			slices.Sort(w.decodes)
			kv("frame decode p50 (ms)", ms(percentile.Sorted(w.decodes, 0.50)))
			kv("frame decode max (ms)", ms(w.decodes[len(w.decodes)-1]))
		} else {
			kv("frame decode p50 (ms)", "n/a")
			kv("frame decode max (ms)", "n/a")
		}
	}
	if w.haveContinuity {
		kv("continuity", strconv.FormatFloat(w.lastContinuity, 'f', 4, 64))
	} else {
		kv("continuity", "n/a")
	}
	switch {
	case c.cfg.Engine.Manifest.Image.Balance == nil:
		kv("image balance gain (r g b)", "n/a: the bundle declares no image.balance")
	case w.inferences > 0:
		kv("image balance gain (r g b)", gainText(w.lastImageGain))
	default:
		kv("image balance gain (r g b)", "n/a")
	}
	count("frames received", t.received)
	count("chunks published", t.published)
	count("dropped frames (superseded)", t.superseded)
	count("dropped frames (stale)", t.stale)
	count("frames without instruction", t.noInstruction)
	count("frames before /clock", t.noClock)
	count("bad frames", t.badFrames)
	count("failed inferences", t.failures)
	count("non-finite chunks", t.nonFinite)
	count(DiagnosticControllersOutOfRange, t.controllersOutOfRange)
	count("decode errors", t.decodeErrors)
	count("episodes restarted (time went back)", t.timeRewinds)
	if c.state != nil {
		count("robot states received", t.states)
		count("frames without robot state", t.noState)
	}

	out := &msgs.DiagnosticArray{Header: msgs.Header{Stamp: msgs.TimeFromGo(now)}, Status: []msgs.DiagnosticStatus{status}}
	if c.cfg.Forwarder != nil {
		link := c.cfg.Forwarder.LinkStatus()
		link.Name = c.cfg.NodeName + ": mavlink"
		if link.HardwareID == "" {
			link.HardwareID = c.settings.Mavlink.Endpoint
		}
		link.Values = append(link.Values, msgs.KeyValue{Key: "chunks not forwarded", Value: strconv.FormatUint(t.forwardFailures, 10)})
		out.Status = append(out.Status, link)
	}
	c.cfg.Sink.PublishDiagnostics(out)
	return out
}

// DiagnosticControllersOutOfRange is the key under which the inference status counts, since start-up,
// the controller outputs that were no probability (replay reads it back for its report).
const DiagnosticControllersOutOfRange = "controller outputs out of range"

// ClockMismatch is the age from which on a stale frame says more about the clocks than about the camera:
// a recorded bag played against the wall clock, or a camera whose clock is not synchronized. The
// diagnostics and dysl replay's hint both draw the line there.
const ClockMismatch = time.Minute

// staleMessage says why frames were dropped as stale and, when their age points at a clock mismatch
// rather than a slow pipeline, what to do about it.
func staleMessage(n int, age, maxAge time.Duration, simTime, unstamped bool) string {
	if unstamped {
		return fmt.Sprintf("%d frames dropped as stale, the last with header.stamp 0: the camera driver does not stamp its images, "+
			"so their age is unknown; stamp them with the capture time, or set max_image_age to 0 to act on them unchecked", n)
	}
	if age < 0 {
		msg := fmt.Sprintf("%d frames dropped as older than max_image_age (%v) or stamped further ahead of the node's clock, the last %v ahead",
			n, maxAge, (-age).Round(time.Millisecond))
		if simTime {
			return msg + ": image stamps run ahead of /clock; is /clock published from the same recording?"
		}
		return msg + ": the camera's clock runs ahead of the node's; synchronize them (chrony, PTP)"
	}
	msg := fmt.Sprintf("%d frames older than max_image_age (%v) dropped, the last %v old", n, maxAge, age.Round(time.Millisecond))
	if age < ClockMismatch {
		return msg
	}
	if simTime {
		return msg + ": image stamps are far from the /clock time; is /clock published from the same recording?"
	}
	return msg + ": image stamps are far from the node's clock; to play a bag run `ros2 bag play --clock 100 BAG` " +
		"and start the node with use_sim_time:=true, or synchronize the camera's clock"
}

// NotServingDiagnostics is what a node publishes each diagnostics period while it serves no frames, a
// managed node in any lifecycle state but active (state is its label, such as "inactive"): the same
// status name as a serving node's, WARN, so that a monitor tells a node that is not serving from one
// that is gone, and what would make it serve.
func NotServingDiagnostics(nodeName, hardwareID, state string, now time.Time) *msgs.DiagnosticArray {
	next := "in transition"
	switch state {
	case "unconfigured":
		next = "~/change_state configures it, then activates it"
	case "inactive":
		next = "~/change_state activates it"
	case "finalized":
		next = "it was shut down: start the node again"
	}
	return &msgs.DiagnosticArray{
		Header: msgs.Header{Stamp: msgs.TimeFromGo(now)},
		Status: []msgs.DiagnosticStatus{{
			Level: msgs.DiagnosticWarn, Name: nodeName + ": inference", HardwareID: hardwareID,
			Message: fmt.Sprintf("not serving frames: the managed node is %s (%s)", state, next),
			Values:  []msgs.KeyValue{{Key: "lifecycle state", Value: state}},
		}},
	}
}
