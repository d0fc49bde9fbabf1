package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dysl bag info prints what Humble's ros2 bag info printed for the same (compressed) recording.
func TestBagInfoEqualsROS2BagInfo(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC // the reference output was printed in UTC
	t.Cleanup(func() { time.Local = saved })
	for _, name := range []string{"pub_sqlite3_file_zstd", "pub_sqlite3_message_zstd", "pub_mcap"} {
		fixtures := filepath.Join("..", "..", "bag", "testdata", "humble")
		want, err := os.ReadFile(filepath.Join(fixtures, "ros2_bag_info", name+".txt"))
		require.NoError(t, err)
		out, stderr, err := runDysl("bag", "info", filepath.Join(fixtures, name))
		require.NoError(t, err)
		require.Empty(t, stderr)
		require.Equal(t, string(want), out, name)
	}
}

func TestBagGenRefusesZerosAndNaN(t *testing.T) {
	cases := []struct {
		flags []string
		want  string
	}{
		{[]string{"--episodes", "0"}, "--episodes 0: must be at least 1"},
		{[]string{"--rate", "0"}, "--rate 0: must be a frame rate in Hz above 0"},
		{[]string{"--rate", "NaN"}, "--rate NaN: must be a frame rate in Hz above 0"},
		{[]string{"--chunk", "0"}, "--chunk 0: must be at least 1 step"},
		{[]string{"--chunk", "1000000000"}, "chunk size (1000000000) must be in [1, 1024] steps"},
		{[]string{"--episodes", "1000001"}, "episodes (1000001): expected at most 1000000 episodes"},
		{[]string{"--width", "0"}, "--width 0 --height 64: must be at least 8 pixels each"},
		{[]string{"--image-format", "tiff"}, `image format "tiff" must be one of raw, jpeg, png`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bag")
			_, _, err := runDysl(append([]string{"bag", "gen", "--out", out}, tc.flags...)...)
			require.ErrorContains(t, err, tc.want)
			require.NoDirExists(t, out, "nothing written")
		})
	}
}

// --image-format png records the frames as image_transport's compressed transport publishes them,
// on /image/compressed, which bag info lists.
func TestBagGenRecordsCompressedFrames(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bag")
	_, _, err := runDysl("bag", "gen", "--out", out, "--image-format", "png", "--width", "16", "--height", "12")
	require.NoError(t, err)
	info, _, err := runDysl("bag", "info", out)
	require.NoError(t, err)
	require.Regexp(t, `Topic: /image/compressed \| Type: sensor_msgs/msg/CompressedImage \| Count: \d+`, info)
	require.NotContains(t, info, "Topic: /image |")
}
