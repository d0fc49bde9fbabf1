package replay

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag/samplebag"
	"dysl_vla/compressedimage"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// The same episodes recorded raw, as PNG and as JPEG replay through the tiny model: PNG is lossless,
// so its replay publishes the raw replay's chunks exactly, with the same skip decisions and the same
// comparison with the full model; JPEG's chunks are those of the same frames, close to the raw ones.
func TestReplayOfCompressedBagsMatchesTheRawBag(t *testing.T) {
	model, _ := fixture(t)
	dir := t.TempDir()
	replayed := map[string]Result{}
	for _, format := range samplebag.ImageFormats() {
		bagDir := filepath.Join(dir, format)
		_, err := samplebag.Generate(t.Context(), bagDir, samplebag.Options{Seed: 3, ImageFormat: format})
		require.NoError(t, err)
		replayed[format] = replayOnce(t, model, bagDir, filepath.Join(dir, "out-"+format), true)
	}
	raw, png, jpeg := replayed[samplebag.ImageRaw], replayed[samplebag.ImagePNG], replayed[samplebag.ImageJPEG]
	require.Positive(t, raw.Summary.Frames)
	require.Zero(t, raw.Summary.Skipped)
	for _, format := range []string{samplebag.ImagePNG, samplebag.ImageJPEG} {
		require.Positive(t, replayed[format].Summary.DecodeFramesPerSecond, "%s: the report's bag decoding line counts compressed frames", format)
	}

	require.Equal(t, raw.Chunks, png.Chunks)
	require.Equal(t, decisions(raw), decisions(png))
	require.Equal(t, raw.Summary.ActionMAE, png.Summary.ActionMAE, "the full model saw the same pixels")

	require.Equal(t, raw.Summary.Frames, jpeg.Summary.Frames)
	var sum float64
	n := 0
	for i, c := range jpeg.Chunks {
		require.Equal(t, raw.Chunks[i].Header, c.Header)
		for j, a := range c.Actions {
			sum += math.Abs(float64(a - raw.Chunks[i].Actions[j]))
			n++
		}
	}
	t.Logf("JPEG replay: mean action difference from the raw replay %.4f, action error against the full model %.4f (raw %.4f)",
		sum/float64(n), jpeg.Summary.ActionMAE, raw.Summary.ActionMAE)
	require.Less(t, sum/float64(n), 0.02, "mean action difference of the JPEG replay's chunks from the raw replay's")
	require.Less(t, jpeg.Summary.ActionMAE, 0.02, "against the full model on the same JPEG frames")
}

// decisions are a replay's skip decisions, frame by frame.
func decisions(res Result) [][3]float64 {
	var out [][3]float64
	for _, s := range res.Steps {
		v := 0.0
		if s.Verification {
			v = 1
		}
		out = append(out, [3]float64{float64(s.LayersExecuted), s.SkipRatio, v})
	}
	return out
}

// compressedBag records an instruction and n 16x12 PNG frames, 100 ms apart, on topic; frame bad
// (from 1; 0 for none) holds data that is no PNG.
func compressedBag(t *testing.T, topic string, n, bad int) string {
	t.Helper()
	b := newBagWriter(t, [2]string{"/instruction", instructionType}, [2]string{topic, compressedType})
	b.instruction(base, "pick")
	for i := 1; i <= n; i++ {
		at := base + int64(i)*1e8
		img := msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(at), FrameID: "camera"},
			Width: 16, Height: 12, Encoding: "rgb8", Step: 48, Data: make([]byte, 16*12*3)}
		m, err := compressedimage.Encode(&img, compressedimage.PNG)
		require.NoError(t, err)
		if i == bad {
			m.Data = []byte("GIF89a")
		}
		b.write(topic, at, m)
	}
	return b.close()
}

// The image topic's type comes from the bag: CompressedImage frames are replayed whether they are on
// the parameters' image topic, on its image_transport compressed topic (taken when the bag has no
// raw one, or with image_transport compressed), or on --image-topic.
func TestReplayTakesCompressedFramesWhereTheBagHasThem(t *testing.T) {
	for _, tc := range []struct {
		name, topic string
		overrides   map[string]paramserver.Value
		imageTopic  string
		note        string // why the topic read is not the one the parameters name
	}{
		{"the compressed topic of /image, no flags", "/image/compressed", nil, "",
			"/image is not in the bag, so its compressed transport was read (the node reads it with image_transport compressed)"},
		{"image_transport compressed", "/image/compressed", map[string]paramserver.Value{nodecore.ParamImageTransport: paramserver.String("compressed")}, "", ""},
		{"CompressedImage on /image", "/image", nil, "", ""},
		{"--image-topic", "/cam/compressed", nil, "/cam/compressed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fakeReplay(t, compressedBag(t, tc.topic, 3, 0), tc.overrides, func(c *Config) { c.ImageTopic = tc.imageTopic })
			require.NoError(t, err)
			require.Equal(t, 3, res.Summary.Frames)
			require.Equal(t, tc.topic+" (sensor_msgs/msg/CompressedImage)", res.Summary.Camera, "the report names the camera read")
			require.Equal(t, tc.note, res.Summary.CameraNote)
			var out bytes.Buffer
			WriteSummary(&out, res.Summary)
			require.Contains(t, out.String(), "camera: "+res.Summary.Camera+"\n")
		})
	}
	// A topic given is the one read: no other is looked for.
	_, err := fakeReplay(t, compressedBag(t, "/image/compressed", 3, 0), nil, func(c *Config) { c.ImageTopic = "/image" })
	require.ErrorContains(t, err, "has no topic /image (topics: ")
	require.ErrorContains(t, err, "; the bag holds the camera on /image/compressed (sensor_msgs/msg/CompressedImage): "+
		"give --image-topic /image/compressed", "the topic given is the one to change")
	require.NotContains(t, err.Error(), "params file")
	_, err = fakeReplay(t, pickBag(t, 2), map[string]paramserver.Value{nodecore.ParamImageTransport: paramserver.String("compressed")}, nil)
	require.ErrorContains(t, err, "has no topic /image/compressed (topics: ")
	require.ErrorContains(t, err, "; the bag holds the camera on /image (sensor_msgs/msg/Image): "+
		"set image_transport raw in the params file, or give --image-topic /image")
	// image_topic itself names the compressed topic, under the raw transport: the topic is the setting.
	_, err = fakeReplay(t, pickBag(t, 2), map[string]paramserver.Value{nodecore.ParamImageTopic: paramserver.String("/image/compressed")}, nil)
	require.ErrorContains(t, err, "; the bag holds the camera on /image (sensor_msgs/msg/Image): "+
		"set image_topic /image in the params file, or give --image-topic /image")
	b := newBagWriter(t, [2]string{"/instruction", instructionType}, [2]string{"/image", instructionType})
	_, err = fakeReplay(t, b.close(), nil, nil)
	require.ErrorContains(t, err, "topic /image of bag "+b.dir+" is std_msgs/msg/String, expected sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage")
}

// A compressed frame that does not decode is a bad frame in the report, as a raw frame the model
// cannot read is, and the replay goes on.
func TestReplayCountsUndecodableCompressedFramesAsBadFrames(t *testing.T) {
	res, err := fakeReplay(t, compressedBag(t, "/image/compressed", 4, 2), nil, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Frames)
	require.Equal(t, map[SkipKind]int{SkipBadFrame: 1}, res.Summary.SkippedBy)
	require.Contains(t, res.Skips[0].Reason, `format "rgb8; png compressed bgr8" says png, but the data (starting 47 49 46 38 39 61) is neither a JPEG nor a PNG`)
	require.Positive(t, res.Summary.DecodeFramesPerSecond, "the bag decoding line passes over the bad frame")

	all, err := fakeReplay(t, compressedBag(t, "/image/compressed", 1, 1), nil, nil)
	require.NoError(t, err)
	require.Contains(t, all.Summary.Hint, "compressed data that is no 8-bit JPEG or PNG")
}
