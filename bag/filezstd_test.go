package bag

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

func zstdPack(t *testing.T, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// fileCompressedBag writes a bag directory in compression_mode FILE listing the given files, which it
// writes there, each zstd-packed.
func fileCompressedBag(t *testing.T, storageID string, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bag")
	md := fmt.Sprintf("rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: %s\n  compression_format: zstd\n  compression_mode: FILE\n  relative_file_paths:\n", storageID)
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, zstdPack(t, files[rel]), 0o644))
		md += "    - " + rel + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, MetadataFileName), []byte(md), 0o644))
	return dir
}

// A file-compressed storage file was decompressed whole into the temporary directory (often a RAM
// disk) before it was read: 34 KB of zstd wrote 1 GiB. The copy now stops at the bound, with the file
// reported as corrupt there; here the bound is lowered to 1 MiB, and the file unpacks to 2 MiB.
func TestFileCompressedCopyIsBounded(t *testing.T) {
	defer func(ratio, floor int64) { scratchRatio, scratchFloor = ratio, floor }(scratchRatio, scratchFloor)
	scratchRatio, scratchFloor = 10, 1<<20
	dir := fileCompressedBag(t, "sqlite3", map[string][]byte{"zeros_0.db3.zstd": make([]byte, 2<<20)})
	path := filepath.Join(dir, "zeros_0.db3.zstd")
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, st.Size()*10, int64(1<<20), "zeros pack far more than 10-fold")

	scratch := t.TempDir()
	copyPath, damage, err := decompressFile(path, scratch)
	require.NoError(t, err)
	var corrupt *CorruptFileError
	require.ErrorAs(t, damage, &corrupt)
	require.Equal(t, path, corrupt.Path)
	require.EqualError(t, damage, fmt.Sprintf("bag file %s is truncated or corrupt: zstd decompression: it decompresses to more than 1048576 bytes, "+
		"the most a storage file of %d bytes may unpack to here (10 times its size, or 1048576 bytes; decompress it with zstd -d and open the storage file to read it whole)",
		path, st.Size()))
	copied, err := os.Stat(copyPath)
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), copied.Size(), "the copy stops at the bound")

	// Open reads the copy as far as it goes, as for a cut stream: zeros are no database, so the bag
	// is refused for that damage, and the scratch directory goes.
	t.Setenv("TMPDIR", t.TempDir())
	_, err = Open(dir)
	require.ErrorContains(t, err, "open bag "+dir+": bag file "+path+" is truncated or corrupt: zstd decompression: it decompresses to more than 1048576 bytes")
	entries, err := os.ReadDir(os.Getenv("TMPDIR"))
	require.NoError(t, err)
	require.Empty(t, entries)

	// Within the bound, the same file reads as before.
	scratchFloor = 4 << 20
	_, damage, err = decompressFile(path, t.TempDir())
	require.NoError(t, err)
	require.NoError(t, damage)
}

// Two listed files of the same name in different directories were decompressed to one scratch path:
// the second copy overwrote the first, already open, and its messages were read twice.
func TestFileCompressedFilesOfTheSameNameAreKeptApart(t *testing.T) {
	recording := func(text string, at int64) []byte {
		dir := filepath.Join(t.TempDir(), "rec")
		w, err := Create(dir, WriterOptions{})
		require.NoError(t, err)
		require.NoError(t, w.AddTopic(stringTopic("/chatter")))
		require.NoError(t, w.Write("/chatter", at, encodeString(t, text)))
		require.NoError(t, w.Close())
		data, err := os.ReadFile(filepath.Join(dir, "rec_0.mcap"))
		require.NoError(t, err)
		return data
	}
	dir := fileCompressedBag(t, "mcap", map[string][]byte{
		"a/rec_0.mcap.zstd": recording("from a", t0),
		"b/rec_0.mcap.zstd": recording("from b", t0+1),
	})
	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	var got []string
	for m, err := range r.Messages() {
		require.NoError(t, err)
		var s msgs.String
		require.NoError(t, msgs.Decode(m.Data, &s))
		got = append(got, s.Data)
	}
	require.Equal(t, []string{"from a", "from b"}, got)
}
