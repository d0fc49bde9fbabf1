// Package onnxgraph writes ONNX models from Go and reads back the little a bundle check needs.
//
// The ONNX protobuf messages (ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto,
// ValueInfoProto, TypeProto, OperatorSetIdProto, StringStringEntryProto) are encoded by hand with
// google.golang.org/protobuf/encoding/protowire. The only Go package with public ONNX types,
// github.com/advancedclimatesystems/gonnx, is unmaintained and pulls in gorgonia; the subset used here is
// small and its field numbers are frozen by the ONNX spec (onnx/onnx.proto), so hand encoding is the
// lighter dependency.
//
// Every model written here uses IR version 8 and opset 17 of the standard ("ai.onnx") domain only, so
// ONNX Runtime, TensorRT's parser and onnx-gomlx (which the training imports graphs with) all accept
// it. Tensor data is written as raw little-endian bytes (raw_data), or, per graph and per tensor size,
// as ONNX external data in a side file; onnx-gomlx cannot read external data, so it is opt-in.
//
// Builder is the graph-building API: named values, initializers, constants and one method per operator,
// so a model reads like its architecture. ReadInfo parses an encoded model back into its graph inputs,
// outputs, initializers' external-data references and metadata_props, without ONNX Runtime.
package onnxgraph
