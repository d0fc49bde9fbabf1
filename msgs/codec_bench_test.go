package msgs

import "testing"

// benchmarkRoundTrip encodes m into a reused buffer and decodes it into a
// reused value, the steady state of a node publishing and a bag reader.
func benchmarkRoundTrip(b *testing.B, m, into Message) {
	raw, err := Encode(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if raw, err = Encode(raw, m); err != nil {
			b.Fatal(err)
		}
		if err := Decode(raw, into); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImageVGARoundTrip(b *testing.B) {
	m := &Image{Header: Header{FrameID: "camera"}, Height: 480, Width: 640, Encoding: EncodingRGB8, Step: 640 * 3, Data: make([]byte, 640*480*3)}
	benchmarkRoundTrip(b, m, &Image{})
}

func BenchmarkActionChunkRoundTrip(b *testing.B) {
	m := &ActionChunk{
		Header: Header{FrameID: "camera"}, Steps: 8, ActionDim: 7,
		ActionNames: []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"},
		Actions:     make([]float32, 8*7), Strategy: "dysl",
	}
	benchmarkRoundTrip(b, m, &ActionChunk{})
}

func BenchmarkParameterEventRoundTrip(b *testing.B) {
	m := &ParameterEvent{Node: "/dysl", ChangedParameters: []Parameter{
		{Name: "controller_threshold", Value: ParameterValue{Type: ParameterDouble, DoubleValue: 0.5}},
		{Name: "strategy", Value: ParameterValue{Type: ParameterString, StringValue: "dysl"}},
	}}
	benchmarkRoundTrip(b, m, &ParameterEvent{})
}
