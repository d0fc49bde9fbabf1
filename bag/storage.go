package bag

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Storage identifiers as rosbag2 names its storage plugins.
const (
	storageSQLite3 = "sqlite3"
	storageMCAP    = "mcap"
)

// storageForFile picks the storage plugin by file extension, as rosbag2 does for a lone file.
func storageForFile(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".db3":
		return storageSQLite3, nil
	case ".mcap":
		return storageMCAP, nil
	}
	return "", fmt.Errorf("%s: unknown storage file extension %q, expected .db3 (sqlite3) or .mcap", path, filepath.Ext(path))
}

// fileSummary is what one storage file says about itself.
type fileSummary struct {
	topics []TopicInfo // in the file's own order; MessageCount valid only when countsKnown
	// countsKnown is false when the file could not be fully counted (no index and a read fault).
	countsKnown  bool
	messageCount uint64
	start, end   int64 // log times of the first and last message; zero when empty
	// fault is the error a full read of the file would end with (found while counting an
	// unindexed file); nil when the file read cleanly or was not scanned.
	fault error
	// unknownTopicRows counts sqlite3 rows whose topic id the topics table lacks: not among the
	// topics' counts, read as damaged messages.
	unknownTopicRows uint64
	// damagedChunks counts the chunks of an unindexed file that cannot be read (see chunkDamage), whose
	// messages are not counted, and chunkDamage is the first one's fault.
	damagedChunks uint64
	chunkDamage   error
	// indexProblem is why a file's index is not used, the file being read in file order instead (it
	// disagrees with the data, or names a chunk over the bound), said as Info's warning says it; nil when
	// the index is used or there is none.
	indexProblem error
}

// messageStream yields one file's messages in its time order; next returns io.EOF at the end.
type messageStream interface {
	next() (Message, error)
	close() error
}

// storageFile is one opened .db3 or .mcap file.
type storageFile interface {
	summary() fileSummary
	// messages opens an independent stream over the file, restricted to topics when non-empty.
	messages(topics map[string]bool) (messageStream, error)
	close() error
}

func openStorageFile(path, storageID string) (storageFile, error) {
	switch storageID {
	case storageSQLite3:
		return openSQLiteFile(path)
	case storageMCAP:
		return openMCAPFile(path)
	}
	return nil, fmt.Errorf("%s: storage %q not supported, expected %q or %q", path, storageID, storageSQLite3, storageMCAP)
}
