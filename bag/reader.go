package bag

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message is one recorded message.
type Message struct {
	Topic string
	Type  string // ROS type, e.g. "sensor_msgs/msg/Image"
	// LogTime is when the recorder received the message, in nanoseconds since the Unix epoch:
	// the bag's time axis.
	LogTime int64
	Data    []byte // CDR, including the 4-byte encapsulation header
	// Damaged, when set, says why this message's data could not be read (its zstd compression, in
	// compression_mode MESSAGE, is broken; its sqlite3 row names a topic the file lacks, and Topic
	// then gives that topic's id); Data is then nil. The file around it reads on, as a message whose
	// CDR does not decode is skipped and the next one read.
	Damaged error
}

// TopicInfo describes one recorded topic.
type TopicInfo struct {
	Name                string
	Type                string
	SerializationFormat string // "cdr" for every ROS 2 bag
	OfferedQoSProfiles  string // YAML list of the publishers' QoS, as rosbag2 stores it
	MessageCount        uint64
}

// FileInfo describes one storage file of a bag.
type FileInfo struct {
	Path         string // as metadata.yaml lists it (relative to the bag directory), or the file given
	Size         int64  // bytes on disk
	MessageCount uint64 // counted in the file; see CountsKnown
	CountsKnown  bool   // false when a fault kept the file from being counted in full
	Start, End   int64  // log times of the file's first and last message; zero when empty
	// Topics are the topics the file itself declares (its channels or topics table), with the
	// counts found in it.
	Topics []TopicInfo
}

// Info describes a bag. With a metadata.yaml, topics, counts and times are what it says (as
// `ros2 bag info` prints them), and Warnings lists where the storage files disagree; without
// one they are counted from the files.
type Info struct {
	Path            string // the directory or file given to Open
	StorageID       string // "sqlite3" or "mcap"
	MetadataVersion int    // 0 when the bag has no metadata.yaml
	Files           []FileInfo
	Topics          []TopicInfo
	MessageCount    uint64
	Start, End      int64 // log times of the first and last message, ns since the epoch
	// Size is the bag's size on disk as `ros2 bag info` counts it: every file directly in the bag
	// directory (metadata.yaml included), or the lone file given.
	Size int64
	// CompressionFormat and CompressionMode are metadata.yaml's ("zstd", "FILE" or "MESSAGE"), empty
	// for an uncompressed bag. Messages yields decompressed data either way.
	CompressionFormat, CompressionMode string
	Warnings                           []string
}

// Duration is the span from the first to the last message.
func (i Info) Duration() time.Duration { return time.Duration(i.End - i.Start) }

// TopicTypes lists the distinct types recorded for a topic, by metadata.yaml and by every storage
// file: more than one means the bag mixes types on that topic (two MCAP channels, or a metadata file
// that disagrees with the storage).
func (i Info) TopicTypes(name string) []string {
	var types []string
	add := func(topics []TopicInfo) {
		for _, t := range topics {
			if t.Name == name && !slices.Contains(types, t.Type) {
				types = append(types, t.Type)
			}
		}
	}
	add(i.Topics)
	for _, f := range i.Files {
		add(f.Topics)
	}
	return types
}

// StoredCount is how many messages on the topic the storage files say they hold (their index, or
// their count when read at Open); ok is false when a file could not be counted in full.
func (i Info) StoredCount(topic string) (n uint64, ok bool) {
	for _, f := range i.Files {
		if !f.CountsKnown {
			return 0, false
		}
		for _, t := range f.Topics {
			if t.Name == topic {
				n += t.MessageCount
			}
		}
	}
	return n, true
}

// Topic returns the named topic's description.
func (i Info) Topic(name string) (TopicInfo, bool) {
	for _, t := range i.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return TopicInfo{}, false
}

// CorruptFileError reports a storage file that cannot be read to its end: truncated, damaged or
// not a rosbag2 file at all.
type CorruptFileError struct {
	Path string
	Err  error
}

func (e *CorruptFileError) Error() string {
	return fmt.Sprintf("bag file %s is truncated or corrupt: %v", e.Path, e.Err)
}

func (e *CorruptFileError) Unwrap() error { return e.Err }

// Reader reads a rosbag2 bag. It is not safe for concurrent use, but each Messages iteration is
// independent, so several may run one after another.
type Reader struct {
	info  Info
	files []storageFile
	// paths and readPaths are each storage file's path as the user knows it and as it is read (a
	// decompressed copy in file compression mode), so that errors name the user's file.
	paths, readPaths []string
	// scratch holds decompressed copies of a file-compressed bag's storage files; removed by Close.
	scratch string
	// messageZstd undoes per-message compression; nil when the bag's messages are not compressed.
	messageZstd *messageDecompressor
}

// Open opens a bag directory (with metadata.yaml) or a single .mcap or .db3 file (or a
// zstd-compressed .mcap.zstd or .db3.zstd file, as rosbag2's file compression leaves them).
func Open(path string) (*Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open bag: %w", err)
	}
	if !st.IsDir() {
		return openSingleFile(path, st.Size())
	}
	mdPath := filepath.Join(path, MetadataFileName)
	if _, err := os.Stat(mdPath); err != nil {
		return nil, fmt.Errorf("open bag %s: no %s in the directory; give a single .mcap or .db3 file instead, "+
			"or recreate the metadata with `ros2 bag reindex`", path, MetadataFileName)
	}
	md, err := readMetadata(mdPath)
	if err != nil {
		return nil, fmt.Errorf("open bag: %w", err)
	}
	mode, err := parseCompression(md.CompressionFormat, md.CompressionMode)
	if err != nil {
		return nil, fmt.Errorf("open bag: %s: %w", mdPath, err)
	}
	size, err := directorySize(path)
	if err != nil {
		return nil, fmt.Errorf("open bag: %w", err)
	}
	r := &Reader{info: Info{Path: path, StorageID: md.StorageIdentifier, MetadataVersion: md.Version, Size: size,
		CompressionFormat: md.CompressionFormat, CompressionMode: md.CompressionMode}}
	if mode == compressedMessage {
		if r.messageZstd, err = newMessageDecompressor(maxMessageBytes); err != nil {
			return nil, fmt.Errorf("open bag %s: %w", path, err)
		}
	}
	listed := map[string]bool{}
	for _, rel := range md.RelativeFilePaths {
		if listed[filepath.Clean(rel)] {
			// Reading it twice would yield every message twice.
			r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s lists storage file %q more than once; it is read once",
				MetadataFileName, rel))
			continue
		}
		listed[filepath.Clean(rel)] = true
		filePath := filepath.Join(path, rel)
		fst, err := os.Stat(filePath)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open bag %s: %s lists storage file %q, which is missing: %w", path, MetadataFileName, rel, err)
		}
		// In file mode rosbag2 compresses each file once it is closed; one without the suffix (the
		// last file of a recording that was cut short, listed by `ros2 bag reindex`) is read as is.
		compressed := mode == compressedFile && strings.HasSuffix(rel, compressedSuffix)
		storageName := strings.TrimSuffix(rel, compressedSuffix)
		if ext, _ := storageForFile(storageName); ext != md.StorageIdentifier {
			r.Close()
			return nil, fmt.Errorf("open bag %s: storage file %q does not match storage_identifier %q", path, rel, md.StorageIdentifier)
		}
		if compressed {
			err = r.addCompressedFile(filePath, rel, fst.Size(), md.StorageIdentifier)
		} else {
			err = r.addFile(filePath, filePath, rel, fst.Size(), md.StorageIdentifier)
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open bag %s: %w", path, err)
		}
	}
	r.info.Topics = make([]TopicInfo, 0, len(md.TopicsWithMessageCount))
	for _, t := range md.TopicsWithMessageCount {
		r.info.Topics = append(r.info.Topics, TopicInfo{
			Name: t.TopicMetadata.Name, Type: t.TopicMetadata.Type,
			SerializationFormat: t.TopicMetadata.SerializationFormat,
			OfferedQoSProfiles:  t.TopicMetadata.OfferedQoSProfiles,
			MessageCount:        t.MessageCount,
		})
	}
	r.info.MessageCount = md.MessageCount
	r.info.Start = md.StartingTime.NanosecondsSinceEpoch
	r.info.End = r.info.Start + md.Duration.Nanoseconds
	r.info.Warnings = append(r.info.Warnings, crossCheck(md, r.files, r.info.Files)...)
	return r, nil
}

// directorySize adds up the files directly in dir, as rosbag2 sizes a bag (rcutils'
// calculate_directory_size, one level deep).
func directorySize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || st.IsDir() {
			continue
		}
		total += st.Size()
	}
	return total, nil
}

// decompressed makes a decompressed copy of a file-compressed storage file in the reader's scratch
// directory. A copy that ends early is kept and returned with its damage (see decompressFile).
func (r *Reader) decompressed(path string) (copyPath string, damage, err error) {
	if r.scratch == "" {
		dir, err := os.MkdirTemp("", "dysl-bag-")
		if err != nil {
			return "", nil, fmt.Errorf("decompressing %s: %w", path, err)
		}
		r.scratch = dir
	}
	// Each file in a directory of its own: two listed files may share a name (a/x_0.db3.zstd and
	// b/x_0.db3.zstd), and the second copy would overwrite the first, already open.
	dir := filepath.Join(r.scratch, strconv.Itoa(len(r.readPaths)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("decompressing %s: %w", path, err)
	}
	return decompressFile(path, dir)
}

// addCompressedFile adds a file-compressed storage file, read from its decompressed copy. A copy cut
// short by damage is read as far as it goes, with a warning; one too short to open is refused for
// that damage.
func (r *Reader) addCompressedFile(path, listedAs string, size int64, storageID string) error {
	readPath, damage, err := r.decompressed(path)
	if err != nil {
		return err
	}
	if damage != nil {
		r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s: its zstd data is damaged or cut short, and what decompressed before the fault is read (a checksum that fails at the end leaves data that may itself be damaged): %v", listedAs, damage))
	}
	if err := r.addFile(readPath, path, listedAs, size, storageID); err != nil {
		if damage != nil {
			return damage
		}
		return err
	}
	return nil
}

func openSingleFile(path string, size int64) (*Reader, error) {
	name := path
	compressed := strings.HasSuffix(path, compressedSuffix)
	if compressed {
		name = strings.TrimSuffix(path, compressedSuffix)
	}
	storageID, err := storageForFile(name)
	if err != nil {
		return nil, fmt.Errorf("open bag: %w", err)
	}
	r := &Reader{info: Info{Path: path, StorageID: storageID, Size: size}}
	// ros2 bag info lists a lone file as it was given.
	if compressed {
		r.info.CompressionFormat, r.info.CompressionMode = compressionZstd, compressionFile
		err = r.addCompressedFile(path, path, size, storageID)
	} else {
		err = r.addFile(path, path, path, size, storageID)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open bag: %w", err)
	}
	sum := r.files[0].summary()
	r.info.Topics = sum.topics
	r.info.MessageCount = sum.messageCount
	r.info.Start, r.info.End = sum.start, sum.end
	return r, nil
}

// addFile opens the storage file at readPath (a decompressed copy of userPath, or userPath itself),
// listed in the bag as listedAs, size bytes on disk.
func (r *Reader) addFile(readPath, userPath, listedAs string, size int64, storageID string) error {
	f, err := openStorageFile(readPath, storageID)
	if err != nil {
		return renamePath(err, readPath, userPath)
	}
	sum := f.summary()
	r.files = append(r.files, f)
	r.paths = append(r.paths, userPath)
	r.readPaths = append(r.readPaths, readPath)
	r.info.Files = append(r.info.Files, FileInfo{
		Path: listedAs, Size: size, MessageCount: sum.messageCount, CountsKnown: sum.countsKnown,
		Start: sum.start, End: sum.end, Topics: sum.topics,
	})
	if sum.fault != nil {
		r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s: readable only up to a fault (%d messages counted): %v",
			listedAs, sum.messageCount, renamePath(sum.fault, readPath, userPath)))
	}
	if sum.damagedChunks > 0 {
		r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s: %d chunks cannot be read; their messages are not counted, and are read as damaged (the first: %v)",
			listedAs, sum.damagedChunks, renamePath(sum.chunkDamage, readPath, userPath)))
	}
	if sum.unknownTopicRows > 0 {
		r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s: %d messages name a topic id its topics table lacks; they are not counted, and are read as damaged",
			listedAs, sum.unknownTopicRows))
	}
	if sum.indexProblem != nil {
		r.info.Warnings = append(r.info.Warnings, fmt.Sprintf("%s: %v", listedAs, sum.indexProblem))
	}
	return nil
}

// renamePath makes an error about a decompressed scratch copy name the file the user gave.
func renamePath(err error, readPath, userPath string) error {
	if readPath == userPath || err == nil {
		return err
	}
	var corrupt *CorruptFileError
	if errors.As(err, &corrupt) && corrupt.Path == readPath {
		return &CorruptFileError{Path: userPath, Err: corrupt.Err}
	}
	return fmt.Errorf("%s (decompressed): %w", userPath, err)
}

// crossCheck compares metadata.yaml with what the storage files hold.
func crossCheck(md bagMetadata, files []storageFile, infos []FileInfo) []string {
	var warnings []string
	counted := map[string]uint64{}
	types := map[string][]string{} // topic -> the types the storage files record for it
	var order []string
	allKnown := true
	var total uint64
	for _, f := range files {
		sum := f.summary()
		allKnown = allKnown && sum.countsKnown
		total += sum.messageCount
		for _, t := range sum.topics {
			if _, ok := counted[t.Name]; !ok {
				order = append(order, t.Name)
			}
			counted[t.Name] += t.MessageCount
			if !slices.Contains(types[t.Name], t.Type) {
				types[t.Name] = append(types[t.Name], t.Type)
			}
		}
	}
	listed := map[string]bool{}
	for _, t := range md.TopicsWithMessageCount {
		name := t.TopicMetadata.Name
		listed[name] = true
		if _, inFiles := counted[name]; !inFiles {
			warnings = append(warnings, fmt.Sprintf("topic %s is in %s but in no storage file", name, MetadataFileName))
			continue
		}
		if stored := types[name]; len(stored) != 1 || stored[0] != t.TopicMetadata.Type {
			warnings = append(warnings, fmt.Sprintf("topic %s: %s says type %s, the storage files record %s",
				name, MetadataFileName, t.TopicMetadata.Type, strings.Join(stored, " and ")))
		}
		if allKnown && counted[name] != t.MessageCount {
			warnings = append(warnings, fmt.Sprintf("topic %s: %s says %d messages, the storage files hold %d",
				name, MetadataFileName, t.MessageCount, counted[name]))
		}
	}
	for _, name := range order {
		if !listed[name] {
			warnings = append(warnings, fmt.Sprintf("topic %s is in the storage files but not in %s", name, MetadataFileName))
		}
	}
	if allKnown && total != md.MessageCount {
		warnings = append(warnings, fmt.Sprintf("%s says %d messages in all, the storage files hold %d",
			MetadataFileName, md.MessageCount, total))
	}
	for _, mf := range md.Files {
		for _, fi := range infos {
			// In file compression mode, files lists the storage file's name before compression.
			samePath := fi.Path == mf.Path || strings.TrimSuffix(fi.Path, compressedSuffix) == mf.Path
			if samePath && fi.CountsKnown && fi.MessageCount != mf.MessageCount {
				warnings = append(warnings, fmt.Sprintf("file %s: %s says %d messages, the file holds %d",
					fi.Path, MetadataFileName, mf.MessageCount, fi.MessageCount))
			}
		}
	}
	return warnings
}

// Info describes the bag.
func (r *Reader) Info() Info { return r.info }

// Messages yields the bag's messages in log-time order across all its files (ties: earlier file
// first), restricted to the given topics when any are named. Each yielded Message owns its Data.
//
// A storage file that faults mid-way stops contributing; the other files' messages are still
// yielded, and the fault comes last, as a *CorruptFileError naming the file (several faults are
// joined). A message whose own data is damaged is yielded with Message.Damaged set, and the file
// reads on. An error opening the iteration is yielded alone. Breaking out early is fine.
func (r *Reader) Messages(topics ...string) iter.Seq2[Message, error] {
	var only map[string]bool
	if len(topics) > 0 {
		only = map[string]bool{}
		for _, t := range topics {
			only[t] = true
		}
	}
	return func(yield func(Message, error) bool) {
		type source struct {
			path, readPath string
			stream         messageStream
			head           Message
			live           bool
		}
		sources := make([]*source, 0, len(r.files))
		defer func() {
			for _, s := range sources {
				s.stream.close()
			}
		}()
		var faults []error
		advance := func(s *source) {
			m, err := s.stream.next()
			if m.Damaged != nil {
				m.Damaged = renamePath(m.Damaged, s.readPath, s.path)
			} else if err == nil && r.messageZstd != nil {
				if data, damage := r.messageZstd.decompress(s.path, m); damage != nil {
					m.Data, m.Damaged = nil, damage
				} else {
					m = data
				}
			}
			switch {
			case err == nil:
				s.head, s.live = m, true
			case errors.Is(err, io.EOF):
				s.live = false
			default:
				s.live = false
				faults = append(faults, renamePath(err, s.readPath, s.path))
			}
		}
		for i, f := range r.files {
			stream, err := f.messages(only)
			if err != nil {
				yield(Message{}, err)
				return
			}
			s := &source{path: r.paths[i], readPath: r.readPaths[i], stream: stream}
			sources = append(sources, s)
			advance(s)
		}
		for {
			var first *source
			for _, s := range sources {
				if s.live && (first == nil || s.head.LogTime < first.head.LogTime) {
					first = s
				}
			}
			if first == nil {
				break
			}
			if !yield(first.head, nil) {
				return
			}
			advance(first)
		}
		if len(faults) > 0 {
			yield(Message{}, errors.Join(faults...))
		}
	}
}

// Close releases the storage files. It is safe to call more than once.
func (r *Reader) Close() error {
	var errs []error
	for _, f := range r.files {
		errs = append(errs, f.close())
	}
	r.files = nil
	if r.messageZstd != nil {
		r.messageZstd.close()
		r.messageZstd = nil
	}
	if r.scratch != "" {
		errs = append(errs, os.RemoveAll(r.scratch))
		r.scratch = ""
	}
	return errors.Join(errs...)
}
