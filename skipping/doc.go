// Package skipping is the DySL-VLA decision logic as a pure, deterministic state machine: which decoder
// layers run, where the skipping-allow points stand, trajectory continuity, and post-skip verification.
//
// It does no I/O, starts no goroutines and reads no clock; time and actions come in as arguments, so a
// bag replayed at any speed decides exactly as the robot did. A Machine is not safe for concurrent use:
// its one owner (the engine) serializes calls and swaps configurations between inferences.
//
// One inference is a short conversation with the Machine:
//
//	plan := m.Plan()                   // decide which layers may be skipped
//	trace, err := plan.Walk(runner)    // execute: the runner runs layers, adapters, controllers
//	chunk := head(...)                 // normalized action chunk
//	v := m.Report(chunk, trace)        // continuity, allow points, verification
//	if v.Rerun {                       // first sign of a critical moment: run everything
//	    trace, err = v.Plan.Walk(runner)
//	    chunk = head(...)
//	    m.Report(chunk, trace)
//	}
//
// Calling Plan twice without Report, or Report without Plan, panics: it is a bug in the caller, like a
// raft Ready that was never advanced. See docs/ALGORITHM.md for the equations this implements.
package skipping
