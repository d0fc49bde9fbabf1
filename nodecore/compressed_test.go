package nodecore_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
)

// compressedTransport are the overrides of a node launched with image_transport:=compressed.
var compressedTransport = map[string]paramserver.Value{nodecore.ParamImageTransport: paramserver.String(nodecore.ImageTransportCompressed)}

// patterned is an 8x6 rgb8 frame stamped at t0 + at whose pixels differ, so that the fake backend's
// output (it reads the image's mean) tells its pixels from another frame's.
func patterned(at time.Duration, shift byte) msgs.Image {
	img := msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0.Add(at)), FrameID: "cam"},
		Width: 8, Height: 6, Encoding: "rgb8", Step: 24, Data: make([]byte, 8*6*3)}
	for i := range img.Data {
		img.Data[i] = byte(i*7) + shift
	}
	return img
}

// pngOf is img as the compressed transport sends it: a PNG, serialized as a CompressedImage.
func pngOf(t *testing.T, img msgs.Image) []byte {
	t.Helper()
	rgba := image.NewNRGBA(image.Rect(0, 0, int(img.Width), int(img.Height)))
	for y := range int(img.Height) {
		for x := range int(img.Width) {
			p := img.Data[y*int(img.Step)+3*x:]
			rgba.SetNRGBA(x, y, color.NRGBA{R: p[0], G: p[1], B: p[2], A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, rgba))
	return compressed(t, img.Header, "rgb8; png compressed bgr8", buf.Bytes())
}

func compressed(t *testing.T, header msgs.Header, format string, data []byte) []byte {
	t.Helper()
	raw, err := msgs.Encode(nil, &msgs.CompressedImage{Header: header, Format: format, Data: data})
	require.NoError(t, err)
	return raw
}

// A compressed frame is served as the raw frame of its pixels would be: the same chunk, with its
// header's stamp and frame_id.
func TestCompressedFramesActAsTheirRawPixels(t *testing.T) {
	raw := newFixture(t, nil, nil)
	comp := newFixture(t, nil, compressedTransport)
	for _, f := range []*fixture{raw, comp} {
		f.core.SetInstruction("pick")
	}
	for i := range 4 {
		at := time.Duration(i) * 100 * time.Millisecond
		img := patterned(at, byte(i))
		raw.core.OfferFrame(img)
		require.True(t, comp.core.OfferSerializedCompressedFrame("image/compressed", pngOf(t, img)))
		raw.core.Step(t0.Add(at + 10*time.Millisecond))
		comp.core.Step(t0.Add(at + 10*time.Millisecond))
	}
	require.Len(t, comp.sink.chunks, 4)
	require.Equal(t, raw.sink.chunks, comp.sink.chunks)
	require.Equal(t, msgs.Header{Stamp: msgs.TimeFromGo(t0.Add(300 * time.Millisecond)), FrameID: "cam"}, comp.sink.chunks[3].Header)

	other := newFixture(t, nil, nil) // the pixels matter: another frame gives another chunk
	other.core.SetInstruction("pick")
	other.core.OfferFrame(patterned(0, 100))
	other.core.Step(t0.Add(10 * time.Millisecond))
	require.NotEqual(t, raw.sink.chunks[0].Actions, other.sink.chunks[0].Actions)
}

// Only the frame the worker takes is decoded: frames superseded in the slot, or dropped before
// inference (no instruction here), cost no JPEG or PNG decode. Undecodable data in superseded frames is
// therefore never noticed, and a 640x480 frame costs what its message does, not its pixels.
func TestOnlyTheServedCompressedFrameIsDecoded(t *testing.T) {
	f := newFixture(t, nil, compressedTransport)
	f.core.SetInstruction("pick")
	garbage := compressed(t, msgs.Header{Stamp: msgs.TimeFromGo(t0)}, "png", []byte("not a png"))
	for range 4 {
		require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", garbage))
	}
	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", pngOf(t, patterned(40*time.Millisecond, 0))))
	require.True(t, f.core.Step(t0.Add(50*time.Millisecond)))
	require.Len(t, f.sink.chunks, 1)
	require.Empty(t, eventsOf[nodecore.EventBadFrame](f.sink))
	require.Len(t, eventsOf[nodecore.EventFrameSuperseded](f.sink), 4)

	big := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range big.Pix {
		big.Pix[i] = byte(i * 31 % 251) // incompressible enough to cost its decode
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, big))
	raw := compressed(t, msgs.Header{Stamp: msgs.TimeFromGo(t0), FrameID: "cam"}, "mono8; png compressed ", buf.Bytes())
	f.core.SetInstruction("")
	cycle := func() {
		require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", raw))
		require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", raw)) // supersedes the first
		f.core.Step(t0)                                                                 // no instruction: dropped undecoded
	}
	cycle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 50
	for range n {
		cycle()
	}
	runtime.ReadMemStats(&after)
	perFrame := (after.TotalAlloc - before.TotalAlloc) / (2 * n)
	require.Less(t, perFrame, uint64(4096), "bytes allocated per %d-byte PNG of 640x480 pixels", buf.Len())
}

// Compressed data that does not decode is a bad frame, as a raw frame the model cannot read: counted,
// noticed with its reason, a WARN in the diagnostics; the next frame is served.
func TestUndecodableCompressedFrameIsABadFrame(t *testing.T) {
	f := newFixture(t, nil, compressedTransport)
	f.core.SetInstruction("pick")
	depth := compressed(t, msgs.Header{Stamp: msgs.TimeFromGo(t0), FrameID: "cam"}, "16UC1; compressedDepth png", make([]byte, 40))
	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", depth))
	require.True(t, f.core.Step(t0.Add(10*time.Millisecond)))
	bad := eventsOf[nodecore.EventBadFrame](f.sink)
	require.Len(t, bad, 1)
	require.Equal(t, msgs.TimeFromGo(t0), bad[0].Stamp)
	require.ErrorContains(t, bad[0].Err, `format "16UC1; compressedDepth png" is a depth image`)
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "compressedDepth")
	require.Equal(t, "1", value(t, st, "bad frames"))

	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", pngOf(t, patterned(time.Second, 0))))
	require.True(t, f.core.Step(t0.Add(time.Second+10*time.Millisecond)))
	require.Len(t, f.sink.chunks, 1)
}

// A message that is no CompressedImage, or whose frame_id is no frame name, is a decode error on the
// topic at once, as a raw Image is.
func TestMalformedCompressedMessagesAreDecodeErrors(t *testing.T) {
	f := newFixture(t, nil, compressedTransport)
	require.False(t, f.core.OfferSerializedCompressedFrame("image/compressed", []byte{0, 1}))
	long := compressed(t, msgs.Header{FrameID: strings.Repeat("f", nodecore.MaxFrameID+1)}, "png", nil)
	require.False(t, f.core.OfferSerializedCompressedFrame("image/compressed", long))
	require.False(t, f.core.HasPendingFrame())
	decode := eventsOf[nodecore.EventDecodeError](f.sink)
	require.Len(t, decode, 2)
	require.Contains(t, decode[1].String(), "message on image/compressed dropped: field header.frame_id holds 257 bytes")
}

// image_transport compressed takes CompressedImage frames on image_topic/compressed, as
// image_transport's subscribers do; the diagnostics name that topic. Another transport is refused,
// naming those the node takes.
func TestImageTransportParameter(t *testing.T) {
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	topic, typ := settings.ImageInput()
	require.Equal(t, [2]string{"image", "sensor_msgs/msg/Image"}, [2]string{topic, typ})

	f := newFixture(t, nil, map[string]paramserver.Value{
		nodecore.ParamImageTopic:     paramserver.String("/camera/color/image_raw"),
		nodecore.ParamImageTransport: paramserver.String("compressed"),
	})
	topic, typ = f.core.Settings().ImageInput()
	require.Equal(t, [2]string{"/camera/color/image_raw/compressed", "sensor_msgs/msg/CompressedImage"}, [2]string{topic, typ})
	f.core.SetInstruction("pick")
	require.Equal(t, "no frame served on /camera/color/image_raw/compressed", f.core.Diagnostics(t0).Status[0].Message)

	res := f.params.Set(paramserver.Parameter{Name: nodecore.ParamImageTransport, Value: paramserver.String("raw")})
	require.False(t, res[0].Successful, "read-only")
	_, _, err = nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{nodecore.ParamImageTransport: paramserver.String("theora")}, nil)
	require.EqualError(t, err, `parameter image_transport: "theora" is not an image transport this node takes (expected one of raw, compressed)`)
	desc, err := f.params.Describe(nodecore.ParamImageTransport)
	require.NoError(t, err)
	require.Equal(t, "one of raw, compressed", desc[0].AdditionalConstraints, "what ros2 param describe shows")
}

// observing is a fixture whose inferences are recorded with the image they saw, bytes copied.
func observing(t *testing.T, overrides map[string]paramserver.Value) (*fixture, *[]policy.Image) {
	t.Helper()
	f := newFixture(t, nil, overrides)
	seen := &[]policy.Image{}
	core, err := nodecore.New(nodecore.Config{Engine: f.engine, Params: f.params, Sink: f.sink,
		Infer: func(obs policy.Observation) (policy.Result, error) {
			img := obs.Image
			img.Data = append([]byte(nil), img.Data...)
			*seen = append(*seen, img)
			return f.engine.Infer(obs)
		}})
	require.NoError(t, err)
	t.Cleanup(core.Close)
	f.core = core
	return f, seen
}

// The model sees a compressed frame's pixels as the raw frame's, channel for channel: a red frame is
// red, not blue (the fake backend reads only a frame's mean, so the chunks alone would not tell).
func TestCompressedFramesReachTheModelChannelForChannel(t *testing.T) {
	raw, rawSeen := observing(t, nil)
	comp, compSeen := observing(t, compressedTransport)
	img := patterned(0, 0)
	for i := 0; i < len(img.Data); i += 3 {
		img.Data[i], img.Data[i+1], img.Data[i+2] = 200, byte(i), 10 // red, with a pattern in green
	}
	for _, f := range []*fixture{raw, comp} {
		f.core.SetInstruction("pick")
	}
	raw.core.OfferFrame(img)
	require.True(t, comp.core.OfferSerializedCompressedFrame("image/compressed", pngOf(t, img)))
	raw.core.Step(t0.Add(10 * time.Millisecond))
	comp.core.Step(t0.Add(10 * time.Millisecond))
	require.Len(t, *compSeen, 1)
	require.Equal(t, *rawSeen, *compSeen)
	require.Equal(t, []byte{200, 0, 10}, (*compSeen)[0].Data[:3], "the first pixel, red")
}

// A compressed frame that is not acted on for its age, or for want of a /clock under use_sim_time, is
// dropped before its decode: pixel data that does not decode is never noticed, and costs nothing.
func TestCompressedFramesDroppedBeforeTheirDecode(t *testing.T) {
	frame := patterned(0, 0)
	var m msgs.CompressedImage
	require.NoError(t, msgs.Decode(pngOf(t, frame), &m))
	idat := bytes.Index(m.Data, []byte("IDAT"))
	require.Positive(t, idat)
	m.Data[idat+6] ^= 0xff // in the pixel data: the header reads, the pixels do not (CRC)
	damaged := compressed(t, frame.Header, m.Format, m.Data)

	f := newFixture(t, nil, compressedTransport)
	f.core.SetInstruction("pick")
	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", damaged))
	f.core.Step(t0.Add(time.Hour)) // far older than max_image_age
	require.Len(t, eventsOf[nodecore.EventFrameStale](f.sink), 1)
	require.Empty(t, eventsOf[nodecore.EventBadFrame](f.sink), "a stale frame's pixels are not decoded")

	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", damaged))
	f.core.Step(t0.Add(10 * time.Millisecond))
	bad := eventsOf[nodecore.EventBadFrame](f.sink)
	require.Len(t, bad, 1, "the same data, served, is a bad frame")
	require.ErrorContains(t, bad[0].Err, "png of 8x6 pixels")
}

// A compressed frame whose format or header the model cannot read is said before what waiting would
// cure, as a raw frame's encoding is: the camera's format is what the user has to change.
func TestUnreadableCompressedHeaderIsSaidBeforeStale(t *testing.T) {
	garbage := compressed(t, msgs.Header{Stamp: msgs.TimeFromGo(t0), FrameID: "cam"}, "png", []byte("not a png"))
	f := newFixture(t, nil, compressedTransport)
	f.core.SetInstruction("pick")
	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", garbage))
	f.core.Step(t0.Add(time.Hour)) // far older than max_image_age
	require.Empty(t, eventsOf[nodecore.EventFrameStale](f.sink))
	bad := eventsOf[nodecore.EventBadFrame](f.sink)
	require.Len(t, bad, 1)
	require.ErrorContains(t, bad[0].Err, `format "png" says png, but the data`)
}

// The decode of a served compressed frame is not in the inference's latency: the diagnostics give it
// apart, timed by the engine's clock; a raw camera has no such values.
func TestCompressedFrameDecodeTimeIsInTheDiagnostics(t *testing.T) {
	f := newFixture(t, nil, compressedTransport)
	f.core.Diagnostics(t0) // opens the first period
	st := f.core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, "n/a", value(t, st, "frame decode p50 (ms)"), "nothing decoded yet")

	clock := t0
	f.engine.Now = func() time.Time { clock = clock.Add(3 * time.Millisecond); return clock } // each reading 3 ms on
	f.core.SetInstruction("pick")
	require.True(t, f.core.OfferSerializedCompressedFrame("image/compressed", pngOf(t, patterned(1100*time.Millisecond, 0))))
	require.True(t, f.core.Step(t0.Add(1110*time.Millisecond)))
	require.Len(t, f.sink.chunks, 1)
	st = f.core.Diagnostics(t0.Add(2 * time.Second)).Status[0]
	require.Equal(t, "3.00", value(t, st, "frame decode p50 (ms)"))
	require.Equal(t, "3.00", value(t, st, "frame decode max (ms)"))

	raw := newFixture(t, nil, nil)
	for _, kv := range raw.core.Diagnostics(t0).Status[0].Values {
		require.NotContains(t, kv.Key, "decode p50", "a raw camera decodes nothing")
	}
}
