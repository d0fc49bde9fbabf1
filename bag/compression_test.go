package bag

import (
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// A message whose zstd frame unpacks to more than the bound is refused as damaged, naming the topic,
// instead of taking the memory it claims; one within the bound comes back whole.
func TestMessageDecompressionIsBounded(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zeros := enc.EncodeAll(make([]byte, 1<<20), nil)
	require.Less(t, len(zeros), 1<<10, "a megabyte of zeros packs into a few bytes")

	d, err := newMessageDecompressor(1 << 19)
	require.NoError(t, err)
	defer d.close()
	_, err = d.decompress("bag_0.db3", Message{Topic: "/image", LogTime: 7, Data: zeros})
	var corrupt *CorruptFileError
	require.ErrorAs(t, err, &corrupt)
	require.EqualError(t, err, "bag file bag_0.db3 is truncated or corrupt: message on /image at 7: zstd decompression (compression_mode MESSAGE): "+
		"it unpacks to more than 524288 bytes, the most a message may hold here (bag.MaxMessageBytes)")

	small := enc.EncodeAll(make([]byte, 1<<18), nil)
	m, err := d.decompress("bag_0.db3", Message{Topic: "/image", Data: small})
	require.NoError(t, err)
	require.Len(t, m.Data, 1<<18)
}
