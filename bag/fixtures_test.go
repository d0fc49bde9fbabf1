package bag

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// fixturesDir is where rosbag2's own talker test bags (sqlite3 and MCAP) lie, committed with the
// tests (testdata/talker/README.md says where they come from).
func fixturesDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("testdata", "talker")
}

// The talker recordings from ros2/rosbag2's test resources: the same 20 messages in both storages.
const (
	talkerStart = int64(1585866235112411371)
	talkerEnd   = int64(1585866239643508139)
)

func TestReadRealRecordings(t *testing.T) {
	fixtures := fixturesDir(t)
	cases := []struct {
		name      string
		path      string
		storageID string
		version   int
	}{
		{"sqlite3 directory", "talker_sqlite3", "sqlite3", 4},
		{"mcap directory", "talker_mcap", "mcap", 4},
		{"lone mcap file", "talker_mcap/talker.mcap", "mcap", 0},
		{"lone db3 file", "talker_sqlite3/talker.db3", "sqlite3", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(filepath.Join(fixtures, tc.path))
			require.NoError(t, err)
			defer r.Close()

			info := r.Info()
			require.Equal(t, tc.storageID, info.StorageID)
			require.Equal(t, tc.version, info.MetadataVersion)
			require.Empty(t, info.Warnings)
			require.Equal(t, uint64(20), info.MessageCount)
			require.Equal(t, talkerStart, info.Start)
			require.Equal(t, talkerEnd, info.End)
			require.Len(t, info.Files, 1)

			wantTypes := map[string]string{
				"/topic":            "std_msgs/msg/String",
				"/rosout":           "rcl_interfaces/msg/Log",
				"/parameter_events": "rcl_interfaces/msg/ParameterEvent",
			}
			wantCounts := map[string]uint64{"/topic": 10, "/rosout": 10, "/parameter_events": 0}
			gotTypes, gotCounts := map[string]string{}, map[string]uint64{}
			for _, topic := range info.Topics {
				gotTypes[topic.Name] = topic.Type
				gotCounts[topic.Name] = topic.MessageCount
				require.Equal(t, "cdr", topic.SerializationFormat, topic.Name)
				require.Contains(t, topic.OfferedQoSProfiles, "reliability: 1", topic.Name)
			}
			require.Equal(t, wantTypes, gotTypes)
			require.Equal(t, wantCounts, gotCounts)

			var texts []string
			var last int64
			perTopic := map[string]int{}
			for m, err := range r.Messages() {
				require.NoError(t, err)
				require.GreaterOrEqual(t, m.LogTime, last, "messages must come in time order")
				last = m.LogTime
				perTopic[m.Topic]++
				require.Equal(t, wantTypes[m.Topic], m.Type)
				if m.Topic == "/topic" {
					var s msgs.String
					require.NoError(t, msgs.Decode(m.Data, &s))
					texts = append(texts, s.Data)
				}
			}
			require.Equal(t, map[string]int{"/topic": 10, "/rosout": 10}, perTopic)
			want := make([]string, 10)
			for i := range want {
				want[i] = fmt.Sprintf("Hello, world! %d", i)
			}
			require.Equal(t, want, texts)
		})
	}
}

func TestMessagesFiltersTopics(t *testing.T) {
	r, err := Open(filepath.Join(fixturesDir(t), "talker_sqlite3"))
	require.NoError(t, err)
	defer r.Close()
	first := true
	n := 0
	for m, err := range r.Messages("/topic") {
		require.NoError(t, err)
		require.Equal(t, "/topic", m.Topic)
		if first {
			// The very first /topic message, byte for byte (docs/notes/rosbag2.md, sqlite3).
			require.Equal(t, "000100001000000048656c6c6f2c20776f726c6421203000", fmt.Sprintf("%x", m.Data))
			first = false
		}
		n++
	}
	require.Equal(t, 10, n)
}

// copyDir copies a fixture bag directory into a writable temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), raw, 0o644))
	}
	return dst
}

func TestMetadataDisagreement(t *testing.T) {
	fixtures := fixturesDir(t)
	edit := func(t *testing.T, dir, old, new string) {
		t.Helper()
		path := filepath.Join(dir, MetadataFileName)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		edited := replaceOnce(t, string(raw), old, new)
		require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	}

	t.Run("topic count differs: warning, messages still read", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_sqlite3"))
		edit(t, dir, "message_count: 20", "message_count: 21")
		r, err := Open(dir)
		require.NoError(t, err)
		defer r.Close()
		require.Equal(t, []string{"metadata.yaml says 21 messages in all, the storage files hold 20"}, r.Info().Warnings)
		n := 0
		for _, err := range r.Messages() {
			require.NoError(t, err)
			n++
		}
		require.Equal(t, 20, n)
	})
	t.Run("topic missing from metadata: warning", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_sqlite3"))
		edit(t, dir, "name: /rosout", "name: /rosout_renamed")
		r, err := Open(dir)
		require.NoError(t, err)
		defer r.Close()
		require.ElementsMatch(t, []string{
			"topic /rosout_renamed is in metadata.yaml but in no storage file",
			"topic /rosout is in the storage files but not in metadata.yaml",
		}, r.Info().Warnings)
	})
	t.Run("topic type differs: warning", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_sqlite3"))
		edit(t, dir, "type: std_msgs/msg/String", "type: std_msgs/msg/Int32")
		r, err := Open(dir)
		require.NoError(t, err)
		defer r.Close()
		require.Equal(t, []string{"topic /topic: metadata.yaml says type std_msgs/msg/Int32, the storage files record std_msgs/msg/String"},
			r.Info().Warnings)
	})
	t.Run("listed file missing: error", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_mcap"))
		require.NoError(t, os.Remove(filepath.Join(dir, "talker.mcap")))
		_, err := Open(dir)
		require.ErrorContains(t, err, `metadata.yaml lists storage file "talker.mcap", which is missing`)
	})
	t.Run("unsupported version: error", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_mcap"))
		edit(t, dir, "version: 4", "version: 42")
		_, err := Open(dir)
		require.ErrorContains(t, err, "metadata version 42 not supported, expected 4 to 9")
	})
	t.Run("storage id disagrees with file: error", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_mcap"))
		edit(t, dir, "storage_identifier: mcap", "storage_identifier: sqlite3")
		_, err := Open(dir)
		require.ErrorContains(t, err, `storage file "talker.mcap" does not match storage_identifier "sqlite3"`)
	})
	t.Run("directory without metadata: error", func(t *testing.T) {
		dir := copyDir(t, filepath.Join(fixtures, "talker_mcap"))
		require.NoError(t, os.Remove(filepath.Join(dir, MetadataFileName)))
		_, err := Open(dir)
		require.ErrorContains(t, err, "no metadata.yaml in the directory")
	})
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	require.GreaterOrEqual(t, i, 0, "%q not found", old)
	return s[:i] + new + s[i+len(old):]
}
