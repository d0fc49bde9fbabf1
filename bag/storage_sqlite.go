package bag

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver: no cgo, so cross-builds stay simple
)

// sqliteFile reads a rosbag2 .db3 file (schema versions 1 to 4: Foxy to Jazzy).
type sqliteFile struct {
	path     string
	db       *sql.DB
	topicsBy map[int64]TopicInfo // topics.id → topic
	sum      fileSummary
}

func openSQLiteFile(path string) (*sqliteFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// Read-only and immutable: bags often sit in read-only places, and a reader must never leave
	// journal or lock files next to someone's recording. writable_schema only relaxes SQLite's
	// check that the file is as long as its header claims (it cannot write through a read-only
	// connection): without it a truncated recording yields nothing, with it every row before the
	// cut is still read and the damaged page is reported where iteration reaches it.
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&immutable=1&_pragma=writable_schema(1)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file := &sqliteFile{path: path, db: db, topicsBy: map[int64]TopicInfo{}}
	if err := file.readSummary(); err != nil {
		db.Close()
		return nil, &CorruptFileError{Path: path, Err: err}
	}
	return file, nil
}

func (f *sqliteFile) readSummary() error {
	if err := f.checkTables(); err != nil {
		return err
	}
	// Schema version 1 bags have no offered_qos_profiles column.
	hasQoS := false
	cols, err := f.db.Query(`SELECT name FROM pragma_table_info('topics')`)
	if err != nil {
		return fmt.Errorf("not a rosbag2 sqlite3 file: %w", err)
	}
	for cols.Next() {
		var name string
		if err := cols.Scan(&name); err != nil {
			cols.Close()
			return err
		}
		hasQoS = hasQoS || name == "offered_qos_profiles"
	}
	cols.Close()
	if err := cols.Err(); err != nil {
		return err
	}
	query := `SELECT id, name, type, serialization_format, '' FROM topics ORDER BY id`
	if hasQoS {
		query = `SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics ORDER BY id`
	}
	rows, err := f.db.Query(query)
	if err != nil {
		return fmt.Errorf("not a rosbag2 sqlite3 file (reading topics): %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		var t TopicInfo
		if err := rows.Scan(&id, &t.Name, &t.Type, &t.SerializationFormat, &t.OfferedQoSProfiles); err != nil {
			rows.Close()
			return err
		}
		f.topicsBy[id] = t
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	perTopic, err := f.countMessages()
	if err != nil {
		// A damaged page makes counting fail; iteration will still read what precedes it.
		f.sum.fault = fmt.Errorf("counting messages: %w", err)
	} else {
		f.sum.countsKnown = true
	}
	for _, id := range ids {
		t := f.topicsBy[id]
		t.MessageCount = perTopic[id]
		f.sum.topics = append(f.sum.topics, t)
		f.sum.messageCount += t.MessageCount // as Humble counts them, through the topics table
	}
	for id, n := range perTopic {
		if _, known := f.topicsBy[id]; !known {
			f.sum.unknownTopicRows += n
		}
	}
	if f.sum.countsKnown && f.sum.messageCount > 0 {
		var start, end int64
		if err := f.db.QueryRow(`SELECT MIN(timestamp), MAX(timestamp) FROM messages`).Scan(&start, &end); err != nil {
			f.sum.fault = fmt.Errorf("reading time range: %w", err)
		}
		f.sum.start, f.sum.end = start, end
	}
	return nil
}

// checkTables refuses a file whose topics or messages are anything but plain tables, as every
// rosbag2 version creates them. SQLite computes a view, a virtual table or a generated column on
// every read, also of a read-only, immutable file: an 8 KiB file whose messages were a recursive view
// yielded a 900 MB blob per row, or rows without end, and Open counted them forever. A plain table
// holds only what the file holds, so every query below reads at most the file.
func (f *sqliteFile) checkTables() error {
	for _, name := range []string{"topics", "messages"} {
		rows, err := f.db.Query(`SELECT type, COALESCE(sql, '') FROM sqlite_master
			WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')`, name)
		if err != nil {
			return fmt.Errorf("not a rosbag2 sqlite3 file (reading its schema): %w", err)
		}
		var kinds []string
		var definition string
		for rows.Next() {
			var kind string
			if err := rows.Scan(&kind, &definition); err != nil {
				rows.Close()
				return err
			}
			kinds = append(kinds, kind)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		switch {
		case len(kinds) == 0:
			return fmt.Errorf("not a rosbag2 sqlite3 file: it has no %s table", name)
		case len(kinds) > 1:
			return fmt.Errorf("not a rosbag2 sqlite3 file: its schema defines %s %d times, expected one table", name, len(kinds))
		case kinds[0] != "table":
			return fmt.Errorf("not a rosbag2 sqlite3 file: %s is a %s, expected a table (rosbag2 stores topics and messages in tables; "+
				"a view computes its rows on every read)", name, kinds[0])
		case !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(definition)), "CREATE TABLE"):
			return fmt.Errorf("not a rosbag2 sqlite3 file: %s is a virtual table, expected a plain table as rosbag2 creates", name)
		}
		// hidden is 2 or 3 for a generated column (computed on read), 1 for a virtual table's hidden one.
		var computed sql.NullString
		err = f.db.QueryRow(`SELECT name FROM pragma_table_xinfo(?) WHERE hidden != 0 LIMIT 1`, name).Scan(&computed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("not a rosbag2 sqlite3 file (reading the columns of %s): %w", name, err)
		}
		if computed.Valid {
			return fmt.Errorf("not a rosbag2 sqlite3 file: column %s of %s is generated, expected stored columns as rosbag2 creates", computed.String, name)
		}
	}
	return nil
}

func (f *sqliteFile) countMessages() (map[int64]uint64, error) {
	rows, err := f.db.Query(`SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	perTopic := map[int64]uint64{}
	for rows.Next() {
		var id int64
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		perTopic[id] = n
	}
	return perTopic, rows.Err()
}

func (f *sqliteFile) summary() fileSummary { return f.sum }
func (f *sqliteFile) close() error         { return f.db.Close() }

func (f *sqliteFile) messages(topics map[string]bool) (messageStream, error) {
	// rosbag2's own read order: by receive time, ties in insertion order. A row's data is read only
	// when its length, which SQLite reads from the row's header, is within the bound: MCAP chunks and
	// compressed messages are bounded, and a .db3 row is one message.
	bound := maxMessageBytes
	rows, err := f.db.Query(`SELECT topic_id, timestamp, octet_length(data), CASE WHEN octet_length(data) <= ? THEN data END
		FROM messages ORDER BY timestamp, id`, int64(bound))
	if err != nil {
		return nil, &CorruptFileError{Path: f.path, Err: err}
	}
	return &sqliteStream{file: f, rows: rows, topics: topics, bound: bound}, nil
}

type sqliteStream struct {
	file   *sqliteFile
	rows   *sql.Rows
	topics map[string]bool
	bound  uint64 // the most bytes a row's data may hold (bag.MaxMessageBytes)
}

func (s *sqliteStream) next() (Message, error) {
	for s.rows.Next() {
		var topicID int64
		var size sql.NullInt64
		var m Message
		if err := s.rows.Scan(&topicID, &m.LogTime, &size, &m.Data); err != nil {
			return Message{}, &CorruptFileError{Path: s.file.path, Err: err}
		}
		t, ok := s.file.topicsBy[topicID]
		if ok && size.Int64 > 0 && uint64(size.Int64) > s.bound {
			// One oversized row, not a broken file: yielded as damaged, without its data.
			if len(s.topics) > 0 && !s.topics[t.Name] {
				continue
			}
			return Message{Topic: t.Name, Type: t.Type, LogTime: m.LogTime, Damaged: &CorruptFileError{Path: s.file.path,
				Err: fmt.Errorf("message on %s at %d holds %d bytes, more than a message may hold here (%d, bag.MaxMessageBytes)",
					t.Name, m.LogTime, size.Int64, s.bound)}}, nil
		}
		if !ok {
			// One broken row, not a broken file: yielded as damaged, whatever the topics asked for
			// (it may be one of them), and the rows after it read on.
			return Message{Topic: fmt.Sprintf("(topic id %d)", topicID), LogTime: m.LogTime, Damaged: &CorruptFileError{Path: s.file.path,
				Err: fmt.Errorf("message at %d refers to topic id %d, which the topics table lacks", m.LogTime, topicID)}}, nil
		}
		if len(s.topics) > 0 && !s.topics[t.Name] {
			continue
		}
		m.Topic, m.Type = t.Name, t.Type
		return m, nil
	}
	if err := s.rows.Err(); err != nil {
		return Message{}, &CorruptFileError{Path: s.file.path, Err: err}
	}
	return Message{}, io.EOF
}

func (s *sqliteStream) close() error { return s.rows.Close() }
