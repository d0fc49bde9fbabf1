package nodecore

import (
	"errors"
	"sync"
	"time"

	"dysl_vla/msgs"
)

// Runner is the live wrapper around a Core: one worker goroutine runs Step whenever a frame waits, and
// diagnostics go out on every tick. Subscription callbacks call OfferFrame and SetInstruction, which
// return at once whatever the model is doing.
type Runner struct {
	// in
	Core *Core
	// Now is the node clock (ROS time). It defaults to time.Now.
	Now func() time.Time
	// DiagnosticsTick, when set, makes the worker publish diagnostics at each receive; the ROS glue
	// passes a time.Ticker's channel of diagnostic_updater.period.
	DiagnosticsTick <-chan time.Time

	wake      chan struct{}
	terminate chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Initialize checks the fields and starts the worker.
func (r *Runner) Initialize() error {
	if r.Core == nil {
		return errors.New("nodecore: Runner needs a Core")
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.wake = make(chan struct{}, 1)
	r.terminate = make(chan struct{})
	r.done = make(chan struct{})
	go r.run()
	return nil
}

// OfferFrame hands a frame to the worker (see Core.OfferFrame) and returns at once.
func (r *Runner) OfferFrame(img msgs.Image) {
	r.Core.OfferFrame(img)
	r.wakeWorker()
}

func (r *Runner) wakeWorker() {
	select {
	case r.wake <- struct{}{}:
	default: // the worker is already due to look at the slot
	}
}

// OfferSerializedFrame hands a serialized frame to the worker (see Core.OfferSerializedFrame) and
// returns at once.
func (r *Runner) OfferSerializedFrame(topic string, raw []byte) {
	if r.Core.OfferSerializedFrame(topic, raw) {
		r.wakeWorker()
	}
}

// OfferSerializedCompressedFrame hands a serialized compressed frame to the worker (see
// Core.OfferSerializedCompressedFrame) and returns at once; the worker decodes its pixels.
func (r *Runner) OfferSerializedCompressedFrame(topic string, raw []byte) {
	if r.Core.OfferSerializedCompressedFrame(topic, raw) {
		r.wakeWorker()
	}
}

// OfferSerializedState hands a serialized robot state to the core (see Core.OfferSerializedState). A
// state does not wake the worker: frames drive inference, the state only goes with them.
func (r *Runner) OfferSerializedState(topic string, raw []byte) {
	r.Core.OfferSerializedState(topic, raw)
}

// SetInstruction sets the instruction in force (see Core.SetInstruction).
func (r *Runner) SetInstruction(text string) { r.Core.SetInstruction(text) }

// Close stops the worker after the inference in progress, if any, and waits for it. Closing one that
// never started, or again, does nothing.
func (r *Runner) Close() {
	if r.done == nil {
		return // never started
	}
	r.closeOnce.Do(func() { close(r.terminate) })
	<-r.done
}

func (r *Runner) run() {
	defer close(r.done)
	for {
		select {
		case <-r.terminate:
			return
		case <-r.wake:
			if r.closing() {
				return
			}
			r.Core.Step(r.Now())
		case <-r.DiagnosticsTick:
			if r.closing() {
				return
			}
			r.Core.Diagnostics(r.Now())
		}
	}
}

// closing reports whether Close was called. A frame that arrived during the last inference and a
// Close that came after it are both ready when that inference ends, and select picks either: without
// this, the worker served that frame half the time, publishing a chunk after deactivate or shutdown
// asked the node to stop acting.
func (r *Runner) closing() bool {
	select {
	case <-r.terminate:
		return true
	default:
		return false
	}
}
