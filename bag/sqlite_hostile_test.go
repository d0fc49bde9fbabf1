package bag

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// hostileSQLiteBag writes a .db3 of the topics and messages the statements make, with one /chatter
// topic unless they make their own.
func hostileSQLiteBag(t *testing.T, statements ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hostile.db3")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range statements {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return path
}

const (
	topicsTable = `CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
		serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL)`
	chatterTopic  = `INSERT INTO topics VALUES (1, '/chatter', 'std_msgs/msg/String', 'cdr', '')`
	messagesTable = `CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL)`
)

// SQLite computes views and generated columns on every read, even of a read-only, immutable file: a
// messages view of 8 KiB yielded 900 MB per row (or, recursive without a limit, rows without end, and
// Open counted them forever). Only plain tables are read; here the views yield three small rows, which
// were read as messages before.
func TestSQLiteTopicsAndMessagesMustBeTables(t *testing.T) {
	rows := `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 3)`
	for _, c := range []struct {
		name       string
		statements []string
		want       string
	}{
		{"messages a recursive view", []string{topicsTable, chatterTopic,
			`CREATE VIEW messages AS ` + rows + ` SELECT x AS id, 1 AS topic_id, x AS timestamp, zeroblob(64) AS data FROM c`},
			"messages is a view, expected a table"},
		{"topics a view", []string{messagesTable,
			`CREATE VIEW topics AS ` + rows + ` SELECT x AS id, '/t' || x AS name, 'std_msgs/msg/String' AS type, 'cdr' AS serialization_format,
				'' AS offered_qos_profiles FROM c`},
			"topics is a view, expected a table"},
		{"generated data", []string{topicsTable, chatterTopic,
			`CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL,
				data BLOB GENERATED ALWAYS AS (zeroblob(64)) VIRTUAL)`,
			`INSERT INTO messages (topic_id, timestamp) VALUES (1, 1), (1, 2), (1, 3)`},
			"column data of messages is generated, expected stored columns"},
		{"no messages", []string{topicsTable, chatterTopic}, "it has no messages table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := hostileSQLiteBag(t, c.statements...)
			r, err := Open(path)
			if err == nil {
				n := 0
				for range r.Messages() {
					n++
				}
				r.Close()
				t.Fatalf("opened, and %d messages read", n)
			}
			var corrupt *CorruptFileError
			require.ErrorAs(t, err, &corrupt)
			require.Equal(t, path, corrupt.Path)
			require.ErrorContains(t, err, "bag file "+path+" is truncated or corrupt: not a rosbag2 sqlite3 file: "+c.want)
		})
	}
}

// A row whose data is over the bound on a message is one damaged message, refused by its length before
// its data is read; the rows around it read on. (MCAP chunks and compressed messages had a bound, .db3
// rows none.)
func TestSQLiteRowOverTheMessageBoundIsDamaged(t *testing.T) {
	defer func(bound uint64) { maxMessageBytes = bound }(maxMessageBytes)
	maxMessageBytes = 1000
	path := filepath.Join(t.TempDir(), "big.db3")
	writeSQLiteBag(t, path, []int64{t0, t0 + 1, t0 + 2})
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE messages SET data = zeroblob(1001) WHERE timestamp = ?`, t0+1)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	var read []int64
	damaged := 0
	for m, err := range r.Messages("/chatter") {
		require.NoError(t, err)
		if m.Damaged != nil {
			damaged++
			require.Nil(t, m.Data)
			require.Equal(t, "/chatter", m.Topic)
			require.EqualError(t, m.Damaged, "bag file "+path+" is truncated or corrupt: message on /chatter at 1700000000000000001 holds 1001 bytes, "+
				"more than a message may hold here (1000, bag.MaxMessageBytes)")
			continue
		}
		var s msgs.String
		require.NoError(t, msgs.Decode(m.Data, &s))
		read = append(read, m.LogTime)
	}
	require.Equal(t, 1, damaged)
	require.Equal(t, []int64{t0, t0 + 2}, read)
}

// rosbag2 before Foxy wrote no offered_qos_profiles column: such a .db3 opens, its topics with no
// profiles, and its messages read.
func TestSQLiteWithoutQoSProfilesColumnOpens(t *testing.T) {
	path := hostileSQLiteBag(t,
		`CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, serialization_format TEXT NOT NULL)`,
		`INSERT INTO topics VALUES (1, '/chatter', 'std_msgs/msg/String', 'cdr')`,
		messagesTable,
		`INSERT INTO messages (topic_id, timestamp, data) VALUES (1, 10, x'000100000300000068690000'), (1, 20, x'000100000300000068690000')`)
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Len(t, info.Topics, 1)
	require.Equal(t, "/chatter", info.Topics[0].Name)
	require.Empty(t, info.Topics[0].OfferedQoSProfiles)
	var stamps []int64
	for m, err := range r.Messages() {
		require.NoError(t, err)
		stamps = append(stamps, m.LogTime)
	}
	require.Equal(t, []int64{10, 20}, stamps)
}

// A recording in which nothing was published is a .db3 with topics and no messages: it opens clean,
// with no fault and no time range to read.
func TestSQLiteWithNoMessagesOpensClean(t *testing.T) {
	path := hostileSQLiteBag(t, topicsTable, chatterTopic, messagesTable)
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Empty(t, info.Warnings)
	require.Zero(t, info.MessageCount)
	for _, err := range r.Messages() {
		require.NoError(t, err)
		t.Fatal("a message read from a bag of none")
	}
}
