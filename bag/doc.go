// Package bag reads and writes rosbag2 recordings without ROS 2 installed.
//
// Reading: Open takes a bag directory (metadata.yaml plus one or more storage files, split bags
// included) or a single .mcap/.db3 file given alone. Both rosbag2 storages are understood: sqlite3
// (.db3, the Humble default; schema versions 1-4) and MCAP (.mcap, the default from Iron on; chunked
// or not, zstd or lz4, with or without a summary index), and rosbag2's own zstd compression as
// `ros2 bag record --compression-mode file|message` writes it (a file-compressed bag is read from a
// decompressed copy in a temporary directory that Close removes). Reader.Messages yields every
// message in bag time order across all files as raw CDR bytes (encapsulation header included);
// decoding is the msgs package's job.
//
// Faults are reported, not hidden: a file listed in metadata.yaml but absent is an error from Open;
// per-topic counts that disagree between metadata.yaml and the files become Info.Warnings (a bag
// whose recorder died keeps stale metadata, and its messages are still worth reading); a truncated
// or corrupt storage file ends iteration with an error naming the file, after the messages read
// before the fault. An MCAP chunk whose records cannot be read (the CRC32 it records of them
// disagrees, its compressed data is broken, its records do not tile it) is damage to that chunk
// alone, as mcap doctor reports it: its messages, as the message index after it names them, come out
// with Message.Damaged set, naming the file, the chunk's offset and, for a CRC, both values; where
// nothing says what it held (in file order, or without a message index) the chunk comes out as one
// damaged message at its first log time; and the chunks after it are read. A chunk that records no
// CRC (0, as Humble's rosbag2 writes them) cannot be checked. Info, like `ros2 bag info`, reads an
// indexed file's summary alone and so says nothing of its chunks' records.
//
// What a file may cost is bounded, whatever it claims: a message holds MaxMessageBytes at most (a
// bigger compressed message or .db3 row is read as damaged), an MCAP chunk twice that, in its
// index and as it decompresses, and so do the chunks the log-time-ordered reader holds at once (a
// file whose chunks overlap more is read in file order, with a warning). A chunk is decompressed
// whole, into a buffer that grows with what comes out, not with what the chunk claims, and checked
// before any of its messages is read; through the index it is decompressed no further than the size
// it states, and a chunk whose data holds more is damaged. An MCAP file's header and summary section
// are read here, not by the MCAP library, which allocated what a record's length claimed (2 GiB for
// a file of 17 bytes): the header holds 64 KiB at most, a summary record no more than is left of
// the summary nor 16 MiB, only what is used is kept of each record, and the summary indexes no more
// chunks than the data section has room for, none twice or overlapping another; in file order, no
// record is read that is longer than the file. A summary whose CRC32 disagrees with the footer's is
// not used: the file is read and counted in file order, with a warning. The data section's CRC32 is
// not checked (it would take reading every byte when a file opens; the chunks' CRCs cover their
// messages). A .db3 is read only through plain tables, never views or generated columns, which
// SQLite would compute on every read. A file-compressed storage file unpacks to 1000 times its
// size, or 64 MiB, at most. A zstd frame declares no more window (nor, in a message, content) than
// its data can need, which the decoder allocates before reading it: what the data can unpack to (a
// chunk the size it states, 32 KiB per byte of zstd at most), or 8 MiB, what encoders declare at
// their default levels whatever the size; a frame that declares more is damage to its chunk,
// message or file (a chunk of 2 KB declaring a window of 512 MiB cost 538 MB to read). Opening an
// indexed MCAP file reads its header, its summary and the head of each chunk record: a 2.4 GB
// recording of 1447 chunks opened in 0.003 s, and in 0.07 to 0.12 s with its pages out of the page
// cache (1.8 s when the header of every zstd block was read too). The index reader keeps 16 bytes
// per selected message of a loaded chunk besides its records: 5% of a rosbag2 chunk of 768 KiB of
// 300-byte messages, and about half of a chunk of empty ones.
//
// Writing: Create makes a bag directory that ROS 2 Humble and later can play: MCAP files with
// profile "ros2", "ros2msg" schemas carrying the full message definition, "cdr" message encoding,
// offered_qos_profiles channel metadata and zstd chunks, plus a version 5 metadata.yaml. Files are
// split by size or duration as rosbag2 does (<name>_0.mcap, <name>_1.mcap, ...).
//
// Times are int64 nanoseconds since the Unix epoch: the receive (log) time rosbag2 records.
package bag
