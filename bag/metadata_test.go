package bag

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The ends of what a metadata.yaml may say are read, one past them refused: the versions rosbag2
// Humble to Jazzy write, and an empty bag, which rosbag2 writes with the largest start and no duration.
func TestMetadataAtTheEdgesOfWhatRosbag2Writes(t *testing.T) {
	path := filepath.Join("testdata", "humble", "pub_mcap", MetadataFileName)
	good, err := readMetadata(path)
	require.NoError(t, err)
	parse := func(edit func(md *bagMetadata)) error {
		md := good
		edit(&md)
		data, err := yaml.Marshal(metadataFile{Info: md})
		require.NoError(t, err)
		_, err = parseMetadata(data, path)
		return err
	}
	for _, v := range []int{minMetadataVersion, maxMetadataVersion} {
		require.NoError(t, parse(func(md *bagMetadata) { md.Version = v }), "version %d", v)
	}
	for _, v := range []int{minMetadataVersion - 1, maxMetadataVersion + 1} {
		require.EqualError(t, parse(func(md *bagMetadata) { md.Version = v }),
			fmt.Sprintf("%s: metadata version %d not supported, expected 4 to 9", path, v))
	}

	require.NoError(t, parse(func(md *bagMetadata) {
		md.StartingTime.NanosecondsSinceEpoch, md.Duration.Nanoseconds = math.MaxInt64, 0
	}), "an empty bag as rosbag2 writes it")
	require.NoError(t, parse(func(md *bagMetadata) {
		md.StartingTime.NanosecondsSinceEpoch, md.Duration.Nanoseconds = math.MaxInt64-5, 5
	}), "a bag that ends at the largest time")
	require.ErrorContains(t, parse(func(md *bagMetadata) {
		md.StartingTime.NanosecondsSinceEpoch, md.Duration.Nanoseconds = math.MaxInt64-5, 6
	}), "plus duration.nanoseconds 6 is past the largest time")
}

// Times are printed as rosbag2 prints them: no sign for zero (an empty bag's duration).
func TestSecondsAtZero(t *testing.T) {
	require.Equal(t, "0.000000000", seconds(0))
	require.Equal(t, "-0.000000001", seconds(-1))
	require.Equal(t, "1.500000000", seconds(1_500_000_000))
}

// A file-compressed storage file may unpack to scratchRatio times its size, and never less than the
// floor: a 1 MiB zstd file of a camera's frames may hold a gigabyte.
func TestScratchLimitScalesWithTheFile(t *testing.T) {
	require.Equal(t, scratchFloor, scratchLimit(1))
	require.Equal(t, scratchRatio<<20, scratchLimit(1<<20))
	require.Equal(t, int64(math.MaxInt64), scratchLimit(math.MaxInt64/2))
}

// rosbag2 plays back only the profiles rmw names; each one it names is valid, with KeepAll's depth
// ignored.
func TestQoSValidateTakesEveryPolicyRmwNames(t *testing.T) {
	for _, q := range []QoS{
		QoSSensorData, QoSDefault, QoSLatched,
		{History: KeepAll, Depth: 0, Reliability: BestEffort, Durability: TransientLocal},
	} {
		require.NoError(t, q.Validate(), "%+v", q)
	}
	bad := QoS{History: 3, Depth: 1, Reliability: 3, Durability: 0}
	require.EqualError(t, bad.Validate(), "invalid QoS: history 3 must be KeepLast (1) or KeepAll (2); "+
		"reliability 3 must be Reliable (1) or BestEffort (2); durability 0 must be TransientLocal (1) or Volatile (2)")
	require.EqualError(t, QoS{History: KeepLast, Depth: 0, Reliability: Reliable, Durability: Volatile}.Validate(),
		"invalid QoS: depth 0 must be >= 1 with KeepLast")
	// KeepAll has no depth: rosbag2 stores 0 whatever the profile held.
	require.Contains(t, OfferedQoSProfiles(QoS{History: KeepAll, Depth: 7, Reliability: Reliable, Durability: Volatile}),
		"- history: 2\n  depth: 0\n")
}
