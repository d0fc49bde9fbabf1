package bag

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"dysl_vla/msgs"
)

// WriterOptions configures a Writer. The zero value writes one file with zstd chunks of 1 MiB.
type WriterOptions struct {
	// MaxFileBytes starts a new storage file once the current one holds at least this many bytes
	// on disk, checked before each message (so a file overshoots by up to one chunk). Zero: no
	// size limit. Mirrors `ros2 bag record --max-bag-size`.
	MaxFileBytes int64
	// MaxFileDuration starts a new storage file when a message's log time is this far past the
	// current file's first message. Zero: no duration limit. Mirrors --max-bag-duration.
	MaxFileDuration time.Duration
	// ChunkSize is the uncompressed size at which a chunk is compressed and written. It defaults
	// to 1 MiB.
	ChunkSize int64
	// Compression of MCAP chunks: "zstd" (the default), "lz4" or "none".
	Compression string
}

const defaultChunkSize = 1 << 20

func (o *WriterOptions) ensureDefaults() {
	if o.ChunkSize == 0 {
		o.ChunkSize = defaultChunkSize
	}
	if o.Compression == "" {
		o.Compression = "zstd"
	}
}

func (o WriterOptions) validate() error {
	var problems []error
	if o.MaxFileBytes < 0 {
		problems = append(problems, fmt.Errorf("MaxFileBytes (%d) must be >= 0", o.MaxFileBytes))
	}
	if o.MaxFileDuration < 0 {
		problems = append(problems, fmt.Errorf("MaxFileDuration (%v) must be >= 0", o.MaxFileDuration))
	}
	if o.ChunkSize < 0 {
		problems = append(problems, fmt.Errorf("ChunkSize (%d) must be >= 0", o.ChunkSize))
	}
	if _, ok := mcapCompression[o.Compression]; !ok {
		//lint:ignore ST1005 the message starts with the name of the option it rejects
		problems = append(problems, fmt.Errorf("Compression %q must be \"zstd\", \"lz4\" or \"none\"", o.Compression))
	}
	return errors.Join(problems...)
}

var mcapCompression = map[string]mcap.CompressionFormat{
	"zstd": mcap.CompressionZSTD,
	"lz4":  mcap.CompressionLZ4,
	"none": mcap.CompressionNone,
}

// Topic declares a topic to record.
type Topic struct {
	Name string // absolute ROS name, e.g. "/image"
	Type string // ROS type, e.g. "sensor_msgs/msg/Image"
	// Definition is the full message definition as rosbag2 stores it in the MCAP schema: the
	// type's .msg text, then each nested type after a line of 80 '=' and "MSG: pkg/Type".
	Definition string
	// QoS lists the offered profiles playback should reuse, one per publisher. Empty means
	// QoSDefault.
	QoS []QoS
}

var (
	// A recorded topic is fully resolved: tokens of letters, digits and underscores, none starting
	// with a digit, one slash between them, none at the end (rcl's rules; ros2 bag play refuses
	// "/robot1//cam/").
	topicNamePattern = regexp.MustCompile(`^(/[A-Za-z_][A-Za-z0-9_]*)+$`)
	typeNamePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*/msg/[A-Z][A-Za-z0-9]*$`)
)

func (t Topic) validate() error {
	var problems []error
	if !topicNamePattern.MatchString(t.Name) {
		problems = append(problems, fmt.Errorf("name %q must be an absolute, resolved ROS topic name such as \"/image\" or \"/robot1/cam/image_raw\" (tokens of letters, digits and underscores, not starting with a digit, one slash between them, none at the end)", t.Name))
	}
	if !typeNamePattern.MatchString(t.Type) {
		problems = append(problems, fmt.Errorf("type %q must look like \"pkg/msg/Type\"", t.Type))
	}
	if t.Definition == "" {
		problems = append(problems, fmt.Errorf("definition of %s is empty; tools need the .msg text to decode it", t.Type))
	}
	for _, q := range t.QoS {
		if err := q.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("topic %q: %w", t.Name, errors.Join(problems...))
	}
	return nil
}

// Writer records a rosbag2 bag directory of MCAP files. Declare topics with AddTopic, record with
// Write, and always Close: Close finishes the current file and writes metadata.yaml, also after
// a failed Write, so what was recorded stays readable. A provisional metadata.yaml is written as
// each storage file opens, so even a killed process leaves a bag Open reads (up to the last
// complete chunk). Not safe for concurrent use.
type Writer struct {
	dir  string
	opts WriterOptions

	topics     []Topic
	channelIDs map[string]uint16 // topic name → MCAP channel ID (also schema ID), stable across files
	perTopic   map[string]uint64
	sequence   map[string]uint32

	file  *os.File
	mcapW *mcap.Writer
	files []fileYAML // finished files, plus the open one last
	// finishedBytes is the size of the finished storage files.
	finishedBytes int64
	failed        error // first write error; later writes return it
	closed        bool
	// metadataAt is when the provisional metadata.yaml was last written (openFile, Write).
	metadataAt time.Time
}

// provisionalMetadataEvery is how often, at most, Write brings the provisional metadata.yaml up to
// date (and always at a file's first message).
const provisionalMetadataEvery = time.Second

// storageBaseName is what storage files are named after, as rosbag2 names them after the bag
// directory: its own name, also when given as "." or "..".
func storageBaseName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(filepath.Clean(dir))
}

// Create makes dir (it must not exist, or be empty) and returns a Writer recording into it.
// Storage files are named <dir base name>_<index>.mcap, as rosbag2 names them.
func Create(dir string, opts WriterOptions) (*Writer, error) {
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("create bag %s: %w", dir, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("create bag %s: directory exists and is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create bag: %w", err)
	}
	return &Writer{
		dir: dir, opts: opts,
		channelIDs: map[string]uint16{}, perTopic: map[string]uint64{}, sequence: map[string]uint32{},
	}, nil
}

// AddTopic declares a topic. Topics may be added at any time before Close.
func (w *Writer) AddTopic(t Topic) error {
	if w.closed {
		return errors.New("bag writer: AddTopic after Close")
	}
	if err := t.validate(); err != nil {
		return fmt.Errorf("bag writer: %w", err)
	}
	if _, dup := w.channelIDs[t.Name]; dup {
		return fmt.Errorf("bag writer: topic %q added twice", t.Name)
	}
	if len(t.QoS) == 0 {
		t.QoS = []QoS{QoSDefault}
	}
	w.topics = append(w.topics, t)
	w.channelIDs[t.Name] = uint16(len(w.topics)) // MCAP IDs must be non-zero
	if w.mcapW != nil {
		return w.fail(w.writeTopicRecords(t))
	}
	return nil
}

// Write records one message. logTime is the receive time in ns since the epoch; data is CDR
// with its encapsulation header.
func (w *Writer) Write(topic string, logTime int64, data []byte) error {
	if w.closed {
		return errors.New("bag writer: Write after Close")
	}
	if w.failed != nil {
		return w.failed
	}
	id, ok := w.channelIDs[topic]
	if !ok {
		return fmt.Errorf("bag writer: topic %q was not added; call AddTopic first", topic)
	}
	if logTime < 0 {
		return fmt.Errorf("bag writer: %s: log time %d must be >= 0 (ns since the epoch)", topic, logTime)
	}
	if len(data) < 4 || data[0] != 0 || data[1] > 1 {
		return fmt.Errorf("bag writer: %s: data must be CDR starting with the encapsulation header 00 01 00 00 (or 00 00 00 00)", topic)
	}
	if err := w.rotateIfDue(logTime); err != nil {
		return w.fail(err)
	}
	seq := w.sequence[topic]
	w.sequence[topic] = seq + 1
	err := w.mcapW.WriteMessage(&mcap.Message{
		ChannelID: id, Sequence: seq, LogTime: uint64(logTime), PublishTime: uint64(logTime), Data: data,
	})
	if err != nil {
		return w.fail(fmt.Errorf("bag writer: %s: %w", w.file.Name(), err))
	}
	cur := &w.files[len(w.files)-1]
	start, end := logTime, logTime
	if cur.MessageCount > 0 {
		start = min(cur.StartingTime.NanosecondsSinceEpoch, logTime)
		end = max(cur.StartingTime.NanosecondsSinceEpoch+cur.Duration.Nanoseconds, logTime)
	}
	cur.StartingTime.NanosecondsSinceEpoch, cur.Duration.Nanoseconds = start, end-start
	cur.MessageCount++
	w.perTopic[topic]++
	// A killed process leaves the provisional metadata.yaml as it was last written. Written only at
	// the file's opening, it said 0 messages from 1970: ros2 bag info called the bag empty, and ros2
	// bag play started its clock at 0 and waited for the first message, decades away, ignoring
	// Ctrl-C. It now holds the first message's time from that message on, and the counts of a
	// second ago (a few more than the file holds, by the chunk being filled, which Open warns of).
	if cur.MessageCount == 1 || time.Since(w.metadataAt) >= provisionalMetadataEvery {
		if err := w.writeProvisionalMetadata(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// writeProvisionalMetadata writes metadata.yaml for the bag as recorded so far.
func (w *Writer) writeProvisionalMetadata() error {
	w.metadataAt = time.Now()
	return writeMetadata(filepath.Join(w.dir, MetadataFileName), w.metadata())
}

func (w *Writer) fail(err error) error {
	if err != nil && w.failed == nil {
		w.failed = err
	}
	return err
}

func (w *Writer) rotateIfDue(logTime int64) error {
	if w.mcapW == nil {
		return w.openFile()
	}
	cur := w.files[len(w.files)-1]
	if cur.MessageCount == 0 {
		return nil
	}
	tooBig := w.opts.MaxFileBytes > 0 && int64(w.mcapW.Offset()) >= w.opts.MaxFileBytes
	tooLong := w.opts.MaxFileDuration > 0 && logTime-cur.StartingTime.NanosecondsSinceEpoch >= int64(w.opts.MaxFileDuration)
	if !tooBig && !tooLong {
		return nil
	}
	if err := w.closeFile(); err != nil {
		return err
	}
	return w.openFile()
}

func (w *Writer) openFile() error {
	name := fmt.Sprintf("%s_%d.mcap", storageBaseName(w.dir), len(w.files))
	f, err := os.Create(filepath.Join(w.dir, name))
	if err != nil {
		return fmt.Errorf("bag writer: %w", err)
	}
	mw, err := mcap.NewWriter(f, &mcap.WriterOptions{
		Chunked:     true,
		ChunkSize:   w.opts.ChunkSize,
		Compression: mcapCompression[w.opts.Compression],
		IncludeCRC:  true,
	})
	if err != nil {
		f.Close()
		return fmt.Errorf("bag writer: %s: %w", name, err)
	}
	w.file, w.mcapW = f, mw
	w.files = append(w.files, fileYAML{Path: name})
	if err := mw.WriteHeader(&mcap.Header{Profile: "ros2", Library: "dysl_vla bag"}); err != nil {
		return fmt.Errorf("bag writer: %s: %w", name, err)
	}
	for _, t := range w.topics {
		if err := w.writeTopicRecords(t); err != nil {
			return err
		}
	}
	// A process killed before Close would leave a bag without metadata.yaml, which rosbag2 and Open
	// refuse until `ros2 bag reindex`; with this one the files read, with warnings about the counts.
	return w.writeProvisionalMetadata()
}

// writeTopicRecords writes a topic's schema and channel into the open file; each split file
// carries its own, so every file can be read alone.
func (w *Writer) writeTopicRecords(t Topic) error {
	id := w.channelIDs[t.Name]
	if err := w.mcapW.WriteSchema(&mcap.Schema{ID: id, Name: t.Type, Encoding: msgs.SchemaEncoding, Data: []byte(t.Definition)}); err != nil {
		return fmt.Errorf("bag writer: %s: schema %s: %w", w.file.Name(), t.Type, err)
	}
	err := w.mcapW.WriteChannel(&mcap.Channel{
		ID: id, SchemaID: id, Topic: t.Name, MessageEncoding: msgs.MessageEncoding,
		Metadata: map[string]string{"offered_qos_profiles": OfferedQoSProfiles(t.QoS...)},
	})
	if err != nil {
		return fmt.Errorf("bag writer: %s: channel %s: %w", w.file.Name(), t.Name, err)
	}
	return nil
}

func (w *Writer) closeFile() error {
	if w.mcapW == nil {
		return nil
	}
	name := w.file.Name()
	errWriter := w.mcapW.Close()
	w.finishedBytes += int64(w.mcapW.Offset())
	errFile := w.file.Close()
	w.mcapW, w.file = nil, nil
	if err := errors.Join(errWriter, errFile); err != nil {
		return fmt.Errorf("bag writer: closing %s: %w", name, err)
	}
	return nil
}

// BytesWritten is how many bytes the storage files hold so far. The chunk being filled is held in
// memory until it is full (WriterOptions.ChunkSize), so it is not counted yet.
func (w *Writer) BytesWritten() int64 {
	n := w.finishedBytes
	if w.mcapW != nil {
		n += int64(w.mcapW.Offset())
	}
	return n
}

// Close finishes the open storage file and writes metadata.yaml. It is safe to call at any time
// and more than once; after a failed Write it still finishes the files and returns the failure.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errOpen error
	if len(w.files) == 0 && w.failed == nil {
		// An empty recording still gets its (empty) storage file, as rosbag2 makes one on open.
		errOpen = w.openFile()
	}
	errFile := w.closeFile()
	errMeta := writeMetadata(filepath.Join(w.dir, MetadataFileName), w.metadata())
	return errors.Join(w.failed, errOpen, errFile, errMeta)
}

func (w *Writer) metadata() bagMetadata {
	md := bagMetadata{
		Version:           writtenMetadataVersion,
		StorageIdentifier: storageMCAP,
		Files:             w.files,
	}
	var start, end int64
	for _, f := range w.files {
		md.RelativeFilePaths = append(md.RelativeFilePaths, f.Path)
		if f.MessageCount == 0 {
			continue
		}
		fileStart := f.StartingTime.NanosecondsSinceEpoch
		if md.MessageCount == 0 {
			start, end = fileStart, fileStart
		}
		start = min(start, fileStart)
		end = max(end, fileStart+f.Duration.Nanoseconds)
		md.MessageCount += f.MessageCount
	}
	md.StartingTime.NanosecondsSinceEpoch = start
	md.Duration.Nanoseconds = end - start
	for _, t := range w.topics {
		md.TopicsWithMessageCount = append(md.TopicsWithMessageCount, topicWithCountYAML{
			TopicMetadata: topicMetadataYAML{
				Name: t.Name, Type: t.Type, SerializationFormat: msgs.MessageEncoding,
				OfferedQoSProfiles: OfferedQoSProfiles(t.QoS...),
			},
			MessageCount: w.perTopic[t.Name],
		})
	}
	return md
}
