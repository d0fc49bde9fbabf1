// Package policy is the engine every front end uses (the ROS 2 node through the node core, bag replay,
// the benchmarks and the evaluation): a camera frame, an instruction and, for a bundle with a state
// block, the robot's state in, an action chunk and its statistics out. It converts them into the model's
// input (package policy/modelinput, which calibration shares; a bad frame or state is an InputError), walks the plan the skipping machine decides (with
// post-skip verification) or a stepwise pass the caller drives, and refuses a chunk with a non-finite
// value.
//
// The graphs run on a Backend chosen by the caller: policy/ortbackend runs them on ONNX Runtime, and
// policy/policytest has fakes for tests. This package is pure Go; only the ONNX Runtime backend needs cgo.
package policy
