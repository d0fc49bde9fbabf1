package bag

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"dysl_vla/msgs"
)

func stringTopic(name string, qos ...QoS) Topic {
	def, ok := msgs.Schema("std_msgs/msg/String")
	if !ok {
		panic("msgs lacks std_msgs/msg/String")
	}
	return Topic{Name: name, Type: "std_msgs/msg/String", Definition: def, QoS: qos}
}

func encodeString(t *testing.T, text string) []byte {
	t.Helper()
	data, err := msgs.Encode(nil, &msgs.String{Data: text})
	require.NoError(t, err)
	return data
}

// readAll drains a bag, returning the messages and the error iteration ended with (if any).
func readAll(t *testing.T, path string) ([]Message, error) {
	t.Helper()
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	var out []Message
	for m, err := range r.Messages() {
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

const t0 = int64(1_700_000_000_000_000_000)

func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "episode")
	w, err := Create(dir, WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/instruction", QoSLatched)))
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))

	var want []Message
	write := func(topic string, at int64, text string) {
		data := encodeString(t, text)
		require.NoError(t, w.Write(topic, at, data))
		want = append(want, Message{Topic: topic, Type: "std_msgs/msg/String", LogTime: at, Data: data})
	}
	write("/instruction", t0, "pick up the red block")
	for i := range 5 {
		write("/chatter", t0+int64(i+1)*int64(100*time.Millisecond), fmt.Sprintf("hello %d", i))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close twice is fine")

	got, err := readAll(t, dir)
	require.NoError(t, err)
	require.Equal(t, want, got)

	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Empty(t, info.Warnings)
	require.Equal(t, 5, info.MetadataVersion)
	require.Equal(t, "mcap", info.StorageID)
	require.Equal(t, uint64(6), info.MessageCount)
	require.Equal(t, t0, info.Start)
	require.Equal(t, 500*time.Millisecond, info.Duration())
	require.Equal(t, []FileInfo{{Path: "episode_0.mcap", Size: info.Files[0].Size, MessageCount: 6, CountsKnown: true,
		Start: t0, End: t0 + int64(500*time.Millisecond), Topics: info.Topics}}, info.Files)
	instruction, ok := info.Topic("/instruction")
	require.True(t, ok)
	require.Equal(t, uint64(1), instruction.MessageCount)
	require.Contains(t, instruction.OfferedQoSProfiles, "reliability: 1\n  durability: 1\n")

	t.Run("metadata.yaml is what Humble writes", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(dir, MetadataFileName))
		require.NoError(t, err)
		var doc map[string]map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &doc))
		md := doc["rosbag2_bagfile_information"]
		require.Equal(t, 5, md["version"])
		require.Equal(t, "mcap", md["storage_identifier"])
		require.Equal(t, []any{"episode_0.mcap"}, md["relative_file_paths"])
		require.Equal(t, map[string]any{"nanoseconds": int(500 * time.Millisecond)}, md["duration"])
		require.Equal(t, map[string]any{"nanoseconds_since_epoch": int(t0)}, md["starting_time"])
		require.Equal(t, "", md["compression_format"])
		require.Len(t, md["topics_with_message_count"], 2)
		require.Len(t, md["files"], 1)
	})

	t.Run("MCAP records are what rosbag2 writes", func(t *testing.T) {
		mcapInfo := readMCAPInfo(t, filepath.Join(dir, "episode_0.mcap"))
		require.Equal(t, "ros2", mcapInfo.Header.Profile)
		require.NotEmpty(t, mcapInfo.ChunkIndexes)
		for _, ci := range mcapInfo.ChunkIndexes {
			require.Equal(t, mcap.CompressionZSTD, ci.Compression)
		}
		for _, s := range mcapInfo.Schemas {
			require.Equal(t, "ros2msg", s.Encoding)
			require.Equal(t, "std_msgs/msg/String", s.Name)
			require.Contains(t, string(s.Data), "string data")
		}
		for _, ch := range mcapInfo.Channels {
			require.Equal(t, "cdr", ch.MessageEncoding)
			require.Contains(t, ch.Metadata["offered_qos_profiles"], "- history: 1\n")
		}
	})
}

// Given as ".", the bag directory still names its storage files, not "._0.mcap", a hidden file.
func TestWriterNamesFilesAfterTheDirectoryGivenAsDot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Chdir(dir)
	w, err := Create(".", WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	require.NoError(t, w.Write("/chatter", 1, encodeString(t, "hi")))
	require.NoError(t, w.Close())
	require.FileExists(t, filepath.Join(dir, "rec_0.mcap"))
}

func TestWriterSplitsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "split")
	w, err := Create(dir, WriterOptions{MaxFileDuration: time.Second})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	for i := range 15 { // 1.5 s at 10 Hz: a full first file, a half second file
		require.NoError(t, w.Write("/chatter", t0+int64(i)*int64(100*time.Millisecond), encodeString(t, fmt.Sprint(i))))
	}
	require.NoError(t, w.Close())

	r, err := Open(dir)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Empty(t, info.Warnings)
	require.Len(t, info.Files, 2)
	require.Equal(t, "split_0.mcap", info.Files[0].Path)
	require.Equal(t, "split_1.mcap", info.Files[1].Path)
	require.Equal(t, uint64(10), info.Files[0].MessageCount)
	require.Equal(t, uint64(5), info.Files[1].MessageCount)
	require.Equal(t, uint64(15), info.MessageCount)

	i := 0
	for m, err := range r.Messages() {
		require.NoError(t, err)
		var s msgs.String
		require.NoError(t, msgs.Decode(m.Data, &s))
		require.Equal(t, fmt.Sprint(i), s.Data, "split files must read back in order")
		i++
	}
	require.Equal(t, 15, i)

	t.Run("each split file reads alone", func(t *testing.T) {
		got, err := readAll(t, filepath.Join(dir, "split_1.mcap"))
		require.NoError(t, err)
		require.Len(t, got, 5)
		require.Equal(t, t0+int64(time.Second), got[0].LogTime)
	})
}

func TestWriterRejectsBadInput(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "bad"), WriterOptions{})
	require.NoError(t, err)
	defer w.Close()
	cases := []struct {
		name    string
		topic   Topic
		wantErr string
	}{
		{"relative name", Topic{Name: "image", Type: "sensor_msgs/msg/Image", Definition: "x"}, `name "image" must be an absolute, resolved ROS topic name`},
		// ros2 bag play refuses these.
		{"empty token and trailing slash", Topic{Name: "/robot1//cam/", Type: "sensor_msgs/msg/Image", Definition: "x"}, `name "/robot1//cam/" must be an absolute, resolved`},
		{"token starting with a digit", Topic{Name: "/1cam/image", Type: "sensor_msgs/msg/Image", Definition: "x"}, `name "/1cam/image" must be`},
		{"bare slash", Topic{Name: "/", Type: "sensor_msgs/msg/Image", Definition: "x"}, `name "/" must be`},
		{"unresolved private name", Topic{Name: "/~/chunks", Type: "sensor_msgs/msg/Image", Definition: "x"}, `name "/~/chunks" must be`},
		{"bad type", Topic{Name: "/image", Type: "Image", Definition: "x"}, `type "Image" must look like "pkg/msg/Type"`},
		{"no definition", Topic{Name: "/image", Type: "sensor_msgs/msg/Image"}, "definition of sensor_msgs/msg/Image is empty"},
		{"bad QoS", Topic{Name: "/image", Type: "sensor_msgs/msg/Image", Definition: "x", QoS: []QoS{{History: KeepLast}}},
			"depth 0 must be >= 1 with KeepLast"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, w.AddTopic(tc.topic), tc.wantErr)
		})
	}
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	require.ErrorContains(t, w.AddTopic(stringTopic("/chatter")), `topic "/chatter" added twice`)
	require.ErrorContains(t, w.Write("/nope", t0, encodeString(t, "x")), `topic "/nope" was not added`)
	require.ErrorContains(t, w.Write("/chatter", t0, []byte("hello")), "data must be CDR")
	require.ErrorContains(t, w.Write("/chatter", -1, encodeString(t, "x")), "log time -1 must be >= 0")

	_, err = Create(t.TempDir(), WriterOptions{Compression: "gzip"})
	require.ErrorContains(t, err, `Compression "gzip" must be "zstd", "lz4" or "none"`)
}

func TestWriterCloseAfterFailureKeepsRecording(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "failing")
	w, err := Create(dir, WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	require.NoError(t, w.Write("/chatter", t0, encodeString(t, "kept")))
	// Make the next file operation fail: the storage file vanishes under the writer's feet is
	// not portable, so inject the failure the writer records.
	w.fail(errors.New("disk full"))
	require.ErrorContains(t, w.Write("/chatter", t0+1, encodeString(t, "lost")), "disk full")
	require.ErrorContains(t, w.Close(), "disk full")
	require.NoError(t, w.Close())

	got, err := readAll(t, dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestEmptyBagIsReadable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "empty")
	w, err := Create(dir, WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	require.NoError(t, w.Close())
	got, err := readAll(t, dir)
	require.NoError(t, err)
	require.Empty(t, got)
}

// writeChatterBag records n strings at 10 Hz with small chunks, so a cut keeps earlier chunks.
func writeChatterBag(t *testing.T, dir string, n int) {
	t.Helper()
	w, err := Create(dir, WriterOptions{ChunkSize: 512})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	for i := range n {
		require.NoError(t, w.Write("/chatter", t0+int64(i)*int64(100*time.Millisecond), encodeString(t, fmt.Sprintf("message %04d", i))))
	}
	require.NoError(t, w.Close())
}

func truncateFile(t *testing.T, path string, keep float64) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, int64(float64(st.Size())*keep)))
}

func TestTruncatedMCAPKeepsEarlierMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(dir string) string
	}{
		{"bag directory", func(dir string) string { return dir }},
		{"lone file", func(dir string) string { return filepath.Join(dir, "cut_0.mcap") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cut")
			writeChatterBag(t, dir, 200)
			truncateFile(t, filepath.Join(dir, "cut_0.mcap"), 0.5)

			r, err := Open(tc.open(dir))
			require.NoError(t, err, "a truncated file opens; the fault is reported by iteration")
			require.NotEmpty(t, r.Info().Warnings)
			require.NoError(t, r.Close())

			got, err := readAll(t, tc.open(dir))
			var corrupt *CorruptFileError
			require.ErrorAs(t, err, &corrupt)
			require.Equal(t, filepath.Join(dir, "cut_0.mcap"), corrupt.Path)
			require.ErrorContains(t, err, "cut_0.mcap is truncated or corrupt")
			require.Greater(t, len(got), 10, "messages before the cut are kept")
			require.Less(t, len(got), 200)
			for i, m := range got {
				var s msgs.String
				require.NoError(t, msgs.Decode(m.Data, &s))
				require.Equal(t, fmt.Sprintf("message %04d", i), s.Data)
			}
		})
	}
}

func TestMCAPCutOnRecordBoundaryIsReported(t *testing.T) {
	// A cut that leaves whole records ends a linear scan quietly; the missing footer gives it away.
	dir := filepath.Join(t.TempDir(), "cut")
	writeChatterBag(t, dir, 50)
	path := filepath.Join(dir, "cut_0.mcap")
	info := readMCAPInfo(t, path)
	require.Greater(t, len(info.ChunkIndexes), 1)
	second := info.ChunkIndexes[1]
	require.NoError(t, os.Truncate(path, int64(second.ChunkStartOffset+second.ChunkLength)))

	got, err := readAll(t, path)
	require.ErrorContains(t, err, "file ends without the MCAP footer")
	require.NotEmpty(t, got)
}

// writeSQLiteBag writes a rosbag2 Humble .db3 (schema version 3) holding /chatter strings at the
// given log times, as rosbag2 would.
func writeSQLiteBag(t *testing.T, path string, times []int64) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL)`,
		`INSERT INTO schema VALUES (3, 'humble')`,
		`CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL)`,
		`CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
			serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL)`,
		`CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL)`,
		`CREATE INDEX timestamp_idx ON messages (timestamp ASC)`,
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	_, err = db.Exec(`INSERT INTO topics VALUES (1, '/chatter', 'std_msgs/msg/String', 'cdr', ?)`, OfferedQoSProfiles(QoSDefault))
	require.NoError(t, err)
	tx, err := db.Begin()
	require.NoError(t, err)
	for _, at := range times {
		_, err := tx.Exec(`INSERT INTO messages (timestamp, topic_id, data) VALUES (?, 1, ?)`, at, encodeString(t, fmt.Sprintf("at %d", at)))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
}

func TestCorruptDB3KeepsEarlierMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cut.db3")
	times := make([]int64, 2000)
	for i := range times {
		times[i] = t0 + int64(i)*int64(time.Millisecond)
	}
	writeSQLiteBag(t, path, times)
	truncateFile(t, path, 0.6)

	r, err := Open(path)
	require.NoError(t, err)
	require.NotEmpty(t, r.Info().Warnings, "counting a damaged file fails and says so")
	require.NoError(t, r.Close())

	got, err := readAll(t, path)
	var corrupt *CorruptFileError
	require.ErrorAs(t, err, &corrupt)
	require.Equal(t, path, corrupt.Path)
	require.Greater(t, len(got), 100, "rows before the damaged pages are kept")
	require.Less(t, len(got), len(times))
	for i, m := range got {
		require.Equal(t, times[i], m.LogTime)
	}
}

func TestSplitSQLiteBagMergesInTimeOrder(t *testing.T) {
	// Two files whose times interleave (not what rosbag2 writes, but what a merge must handle).
	dir := filepath.Join(t.TempDir(), "split")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	writeSQLiteBag(t, filepath.Join(dir, "split_0.db3"), []int64{t0, t0 + 20, t0 + 40})
	writeSQLiteBag(t, filepath.Join(dir, "split_1.db3"), []int64{t0 + 10, t0 + 30})
	md := bagMetadata{
		Version: 5, StorageIdentifier: "sqlite3", MessageCount: 5,
		RelativeFilePaths: []string{"split_0.db3", "split_1.db3"},
		StartingTime:      timeYAML{t0}, Duration: durationYAML{40},
		TopicsWithMessageCount: []topicWithCountYAML{{
			TopicMetadata: topicMetadataYAML{Name: "/chatter", Type: "std_msgs/msg/String", SerializationFormat: "cdr"},
			MessageCount:  5,
		}},
	}
	require.NoError(t, writeMetadata(filepath.Join(dir, MetadataFileName), md))

	got, err := readAll(t, dir)
	require.NoError(t, err)
	var times []int64
	for _, m := range got {
		times = append(times, m.LogTime-t0)
	}
	require.Equal(t, []int64{0, 10, 20, 30, 40}, times)
}

func TestRoundTripEveryCompression(t *testing.T) {
	for _, compression := range []string{"zstd", "lz4", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), compression)
			w, err := Create(dir, WriterOptions{Compression: compression, ChunkSize: 256})
			require.NoError(t, err)
			require.NoError(t, w.AddTopic(stringTopic("/chatter")))
			for i := range 40 {
				require.NoError(t, w.Write("/chatter", t0+int64(i), encodeString(t, fmt.Sprint(i))))
			}
			require.NoError(t, w.Close())
			got, err := readAll(t, dir)
			require.NoError(t, err)
			require.Len(t, got, 40)
			var s msgs.String
			require.NoError(t, msgs.Decode(got[39].Data, &s))
			require.Equal(t, "39", s.Data)
		})
	}
}

func TestNestedIterationsOverOneReader(t *testing.T) {
	// Replay may look ahead with a second pass while the first is open; neither may block.
	r, err := Open(filepath.Join(fixturesDir(t), "talker_sqlite3"))
	require.NoError(t, err)
	defer r.Close()
	outer := 0
	for _, err := range r.Messages("/topic") {
		require.NoError(t, err)
		inner := 0
		for _, err := range r.Messages("/rosout") {
			require.NoError(t, err)
			inner++
		}
		require.Equal(t, 10, inner)
		outer++
	}
	require.Equal(t, 10, outer)
}

// A writer that never reaches Close (its process killed) leaves a bag that opens, with the messages
// of every chunk already written and a warning about the counts.
func TestWriterKilledBeforeCloseLeavesAReadableBag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "killed")
	w, err := Create(dir, WriterOptions{ChunkSize: 256})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(stringTopic("/chatter")))
	for i := range 50 {
		require.NoError(t, w.Write("/chatter", t0+int64(i)*int64(time.Millisecond), encodeString(t, fmt.Sprintf("message %04d", i))))
	}
	require.NoError(t, w.file.Sync()) // what a killed process leaves is what reached the file

	r, err := Open(dir)
	require.NoError(t, err, "metadata.yaml must exist before Close")
	defer r.Close()
	require.NotEmpty(t, r.Info().Warnings)
	got := 0
	for _, err := range r.Messages() {
		if err != nil {
			var corrupt *CorruptFileError
			require.ErrorAs(t, err, &corrupt)
			break
		}
		got++
	}
	require.Greater(t, got, 20, "the complete chunks are read")
	// What rosbag2 reads of it: the first message's time and the messages written (so that ros2 bag
	// play starts there, not in 1970, and ros2 bag info does not call it empty).
	info := r.Info()
	require.Equal(t, t0, info.Start)
	require.Positive(t, info.MessageCount)
	require.NoError(t, w.Close())
}
