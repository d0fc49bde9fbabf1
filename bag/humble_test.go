package bag

import (
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// humbleBags are the recordings of testdata/humble, made by ROS 2 Humble's `ros2 bag record`
// (see its README), with the compression metadata.yaml declares.
var humbleBags = []struct {
	name, storage, compressionMode string
}{
	{"pub_sqlite3", "sqlite3", ""},
	{"pub_sqlite3_file_zstd", "sqlite3", "FILE"},
	{"pub_sqlite3_message_zstd", "sqlite3", "MESSAGE"},
	{"pub_mcap", "mcap", ""},
	{"pub_mcap_file_zstd", "mcap", "FILE"},
	{"replayed_sqlite3", "sqlite3", "FILE"},
}

func humbleBag(name string) string { return filepath.Join("testdata", "humble", name) }

// Every Humble recording, compressed or not, reads completely, and every image decodes.
func TestReadHumbleRecordings(t *testing.T) {
	for _, tc := range humbleBags {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(humbleBag(tc.name))
			require.NoError(t, err)
			defer r.Close()
			info := r.Info()
			require.Empty(t, info.Warnings)
			require.Equal(t, tc.storage, info.StorageID)
			require.Equal(t, tc.compressionMode, info.CompressionMode)

			perTopic := map[string]uint64{}
			var last int64
			for m, err := range r.Messages() {
				require.NoError(t, err)
				require.GreaterOrEqual(t, m.LogTime, last)
				last = m.LogTime
				perTopic[m.Topic]++
				switch m.Topic {
				case "/image":
					var img msgs.Image
					require.NoError(t, msgs.Decode(m.Data, &img))
					require.Equal(t, "rgb8", img.Encoding)
					require.Equal(t, uint32(8), img.Width)
					require.Len(t, img.Data, 192)
				case "/instruction":
					var s msgs.String
					require.NoError(t, msgs.Decode(m.Data, &s))
					require.NotEmpty(t, s.Data)
				}
			}
			for _, topic := range info.Topics {
				require.Equal(t, topic.MessageCount, perTopic[topic.Name], topic.Name)
			}
			require.Positive(t, perTopic["/image"])
		})
	}
}

// dysl bag info prints what Humble's ros2 bag info printed for the same bag, byte for byte.
func TestFormatEqualsHumbleBagInfo(t *testing.T) {
	for _, tc := range humbleBags {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "humble", "ros2_bag_info", tc.name+".txt"))
			require.NoError(t, err)
			r, err := Open(humbleBag(tc.name))
			require.NoError(t, err)
			defer r.Close()
			// ros2 bag info prints the description with Python's print: one more newline.
			require.Equal(t, string(want), r.Info().Format(time.UTC)+"\n")
		})
	}
}

// The three sqlite3 recordings were made at once from the same publishers: compression changes the
// bytes on disk, never the messages read back.
func TestCompressedRecordingsHoldTheSameMessages(t *testing.T) {
	read := func(name string) map[int64][]byte {
		r, err := Open(humbleBag(name))
		require.NoError(t, err)
		defer r.Close()
		byStamp := map[int64][]byte{}
		for m, err := range r.Messages("/image") {
			require.NoError(t, err)
			var img msgs.Image
			require.NoError(t, msgs.Decode(m.Data, &img))
			byStamp[img.Header.Stamp.Nanos()] = m.Data
		}
		return byStamp
	}
	plain := read("pub_sqlite3")
	for _, name := range []string{"pub_sqlite3_file_zstd", "pub_sqlite3_message_zstd", "pub_mcap_file_zstd"} {
		common := 0
		for stamp, data := range read(name) {
			if want, ok := plain[stamp]; ok {
				require.Equal(t, want, data, "%s: image stamped %d", name, stamp)
				common++
			}
		}
		require.GreaterOrEqual(t, common, len(plain)-2, name)
	}
}

// A file-compressed storage file given alone is read too, and its decompressed copy goes with Close.
func TestLoneCompressedFile(t *testing.T) {
	path := humbleBag("pub_mcap_file_zstd/pub_mcap_file_zstd_0.mcap.zstd")
	r, err := Open(path)
	require.NoError(t, err)
	info := r.Info()
	require.Equal(t, "mcap", info.StorageID)
	require.Equal(t, path, info.Files[0].Path, "listed as given, as ros2 bag info lists a lone file")
	require.Equal(t, uint64(28), info.MessageCount)
	scratch := r.scratch
	require.DirExists(t, scratch)
	require.NoError(t, r.Close())
	require.NoDirExists(t, scratch)
}

// editedCopy copies a Humble recording and replaces old by new in its metadata.yaml.
func editedCopy(t *testing.T, name, old, new string) string {
	t.Helper()
	dir := copyDir(t, humbleBag(name))
	path := filepath.Join(dir, MetadataFileName)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(replaceOnce(t, string(raw), old, new)), 0o644))
	return dir
}

// countMessages reads a bag to its end without an error and counts its messages.
func countMessages(t *testing.T, r *Reader) int {
	t.Helper()
	n := 0
	for _, err := range r.Messages() {
		require.NoError(t, err)
		n++
	}
	return n
}

func TestCompressionRefusals(t *testing.T) {
	t.Run("unknown format", func(t *testing.T) {
		_, err := Open(editedCopy(t, "pub_sqlite3_file_zstd", "compression_format: zstd", "compression_format: lz4"))
		require.ErrorContains(t, err, `compression_format "lz4" with compression_mode "FILE" not supported, expected "zstd"`)
	})
	t.Run("unknown mode", func(t *testing.T) {
		_, err := Open(editedCopy(t, "pub_sqlite3_file_zstd", "compression_mode: FILE", "compression_mode: CHUNK"))
		require.ErrorContains(t, err, `compression_mode "CHUNK" not supported`)
	})
	t.Run("message data that is not zstd", func(t *testing.T) {
		dir := editedCopy(t, "pub_sqlite3", "compression_format: \"\"\n  compression_mode: \"\"",
			"compression_format: zstd\n  compression_mode: MESSAGE")
		r, err := Open(dir)
		require.NoError(t, err)
		defer r.Close()
		// Each message is damaged on its own: yielded with the reason, nil data, and the file reads on
		// (a damaged message no more ends the file than a message whose CDR does not decode).
		n := 0
		for m, err := range r.Messages() {
			require.NoError(t, err)
			var corrupt *CorruptFileError
			require.ErrorAs(t, m.Damaged, &corrupt)
			require.ErrorContains(t, m.Damaged, "zstd decompression (compression_mode MESSAGE)")
			require.Equal(t, filepath.Join(dir, "pub_sqlite3_0.db3"), corrupt.Path)
			require.Nil(t, m.Data)
			n++
		}
		require.Equal(t, int(r.Info().MessageCount), n, "every message is yielded")
	})
}

// In file compression mode a listed file without the .zstd suffix (left uncompressed by a recording
// cut short, then reindexed) is read as it is.
func TestFileModeReadsAnUncompressedFile(t *testing.T) {
	dir := editedCopy(t, "pub_sqlite3", "compression_format: \"\"\n  compression_mode: \"\"", "compression_format: zstd\n  compression_mode: FILE")
	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, 28, countMessages(t, r))
}

// A metadata file that lists one storage file twice reads each message once.
func TestDuplicateStorageFileListedOnce(t *testing.T) {
	dir := editedCopy(t, "pub_mcap", "    - pub_mcap_0.mcap\n", "    - pub_mcap_0.mcap\n    - ./pub_mcap_0.mcap\n")
	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, []string{`metadata.yaml lists storage file "./pub_mcap_0.mcap" more than once; it is read once`}, r.Info().Warnings)
	require.Equal(t, 28, countMessages(t, r))
}

// A file-compressed storage file cut short (a copy interrupted) is read as far as it decompresses,
// with a warning, as an uncompressed file cut there would be, instead of refusing the whole bag.
func TestCutCompressedFileIsReadAsFarAsItGoes(t *testing.T) {
	// Incompressible messages in uncompressed chunks, so that the zstd stream spans many blocks.
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := Create(dir, WriterOptions{Compression: "none", ChunkSize: 64 << 10})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(Topic{Name: "/noise", Type: "std_msgs/msg/String", Definition: "string data\n"}))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		data := make([]byte, 32<<10)
		for j := 4; j < len(data); j++ { // after CDR's encapsulation header, 00 00 00 00 (big-endian)
			data[j] = byte(rng.Uint32())
		}
		require.NoError(t, w.Write("/noise", int64(i+1)*1e6, data))
	}
	require.NoError(t, w.Close())
	plain, err := os.ReadFile(filepath.Join(dir, "rec_0.mcap"))
	require.NoError(t, err)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	packed := enc.EncodeAll(plain, nil)
	cut := filepath.Join(t.TempDir(), "cut_0.mcap.zstd")
	require.NoError(t, os.WriteFile(cut, packed[:len(packed)*2/3], 0o644))

	r, err := Open(cut)
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.Info().Warnings, 2)
	require.Contains(t, r.Info().Warnings[0], cut+": its zstd data is damaged or cut short, and what decompressed before the fault is read (a checksum that fails at the end leaves data that may itself be damaged): bag file "+cut+" is truncated or corrupt: zstd decompression:")
	read := 0
	var last error
	for _, err := range r.Messages() {
		if err != nil {
			last = err
			break
		}
		read++
	}
	require.Positive(t, read)
	require.Less(t, read, 40)
	var corrupt *CorruptFileError
	require.ErrorAs(t, last, &corrupt)
	require.Equal(t, cut, corrupt.Path, "named as the user's file, not the scratch copy")

	// Cut before anything decompressed, the copy is not a storage file at all: refused for the cut.
	require.NoError(t, os.WriteFile(cut, packed[:100], 0o644))
	_, err = Open(cut)
	require.ErrorContains(t, err, "open bag: bag file "+cut+" is truncated or corrupt: zstd decompression: ")
}

// A decompressed copy that cannot be written (here, to a full device) is that error, not a bag
// reported as corrupt.
func TestFullScratchDiskIsNotACorruptBag(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	require.NoError(t, os.Symlink("/dev/full", filepath.Join(dir, "pub_mcap_file_zstd_0.mcap")))
	_, damage, err := decompressFile(humbleBag("pub_mcap_file_zstd/pub_mcap_file_zstd_0.mcap.zstd"), dir)
	require.Nil(t, damage)
	require.ErrorContains(t, err, "into "+dir+": write "+filepath.Join(dir, "pub_mcap_file_zstd_0.mcap")+": no space left on device")
	var corrupt *CorruptFileError
	require.False(t, errors.As(err, &corrupt))
}

// A sqlite3 row that names a topic the file lacks is one damaged message, not the end of the file:
// the rows after it are read, and it comes out with Damaged set, named by its topic id.
func TestSQLiteRowOfAnUnknownTopicIsOneDamagedMessage(t *testing.T) {
	dir := copyDir(t, humbleBag("pub_sqlite3"))
	db, err := sql.Open("sqlite", filepath.Join(dir, "pub_sqlite3_0.db3"))
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE messages SET topic_id = 99 WHERE id = (SELECT id FROM messages ORDER BY timestamp, id LIMIT 1 OFFSET 3)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, uint64(27), r.Info().Files[0].MessageCount, "counted as Humble counts, through the topics table")
	require.Contains(t, r.Info().Warnings, "pub_sqlite3_0.db3: 1 messages name a topic id its topics table lacks; they are not counted, and are read as damaged")
	read, damaged := 0, 0
	for m, err := range r.Messages("/image") {
		require.NoError(t, err)
		if m.Damaged != nil {
			damaged++
			require.Equal(t, "(topic id 99)", m.Topic)
			require.ErrorContains(t, m.Damaged, "pub_sqlite3_0.db3 is truncated or corrupt: message at ")
			require.ErrorContains(t, m.Damaged, "refers to topic id 99, which the topics table lacks")
			continue
		}
		read++
	}
	require.Equal(t, 1, damaged)
	require.GreaterOrEqual(t, read, 13, "every other image of the 14")
}
