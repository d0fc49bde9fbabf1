package samplebag

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/compressedimage"
	"dysl_vla/msgs"
	"dysl_vla/scene"
)

// With a compressed image format, the frames go to /image/compressed as CompressedImages, every other
// topic as with raw frames; a PNG frame decodes to the raw frame of the same options, pixel for pixel.
func TestGenerateCompressedFrames(t *testing.T) {
	record := func(format string) map[string][]bag.Message {
		dir := filepath.Join(t.TempDir(), format)
		_, err := Generate(t.Context(), dir, Options{Seed: 3, Scene: scene.Config{Width: 16, Height: 12, ChunkSize: 4}, ImageFormat: format})
		require.NoError(t, err)
		r, err := bag.Open(dir)
		require.NoError(t, err)
		defer r.Close()
		byTopic := map[string][]bag.Message{}
		for m, err := range r.Messages() {
			require.NoError(t, err)
			byTopic[m.Topic] = append(byTopic[m.Topic], m)
		}
		return byTopic
	}
	raw, png, jpeg := record(ImageRaw), record(ImagePNG), record(ImageJPEG)
	require.NotContains(t, png, TopicImage)
	require.Len(t, png[TopicCompressedImage], len(raw[TopicImage]))
	require.Equal(t, raw[TopicExpertChunk], png[TopicExpertChunk])
	for i, m := range png[TopicCompressedImage] {
		require.Equal(t, "sensor_msgs/msg/CompressedImage", m.Type)
		require.Equal(t, raw[TopicImage][i].LogTime, m.LogTime)
		var want, got msgs.Image
		require.NoError(t, msgs.Decode(raw[TopicImage][i].Data, &want))
		var c msgs.CompressedImage
		require.NoError(t, msgs.Decode(m.Data, &c))
		require.Equal(t, "rgb8; png compressed bgr8", c.Format)
		require.NoError(t, compressedimage.Decode(&c, &got))
		require.Equal(t, want, got)
	}
	var c msgs.CompressedImage
	require.NoError(t, msgs.Decode(jpeg[TopicCompressedImage][0].Data, &c))
	require.Equal(t, "rgb8; jpeg compressed bgr8", c.Format)

	_, err := Generate(t.Context(), filepath.Join(t.TempDir(), "x"), Options{ImageFormat: "bmp"})
	require.ErrorContains(t, err, `image format "bmp" must be one of raw, jpeg, png`)
}
