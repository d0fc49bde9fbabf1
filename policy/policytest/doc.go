// Package policytest holds Backends for tests of the engine and everything above it, so those tests need
// no ONNX Runtime and no model files:
//
//   - Fake does deterministic arithmetic on a small hidden vector: layer j adds LayerDelta(j), an adapter
//     adds its jump, a controller returns the probability the test set for its layer.
//   - Counting wraps any Backend and records every call in order, to count them by kind and layer.
//   - Faulty wraps any Backend and injects failures: an error at layer 17 or at the prefix, NaN from the
//     head, or a delay before a call.
//
// The wrappers compose: NewCounting(NewFaulty(NewFake(m), faults...)).
package policytest
