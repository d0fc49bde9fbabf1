package bag

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// MetadataFileName is the name rosbag2 gives the bag description inside a bag directory.
const MetadataFileName = "metadata.yaml"

// writtenMetadataVersion is the BagMetadata version this package writes: 5 is what ROS 2 Humble
// writes and the newest Humble can read; Iron and Jazzy read it too.
const writtenMetadataVersion = 5

// Oldest and newest metadata.yaml versions this package reads (rosbag2 Foxy .. Jazzy).
const (
	minMetadataVersion = 4
	maxMetadataVersion = 9
)

// metadataFile mirrors metadata.yaml. Field names follow rosbag2's YAML keys; fields added after
// version 5 are optional and left empty when writing.
type metadataFile struct {
	Info bagMetadata `yaml:"rosbag2_bagfile_information"`
}

type bagMetadata struct {
	Version                int                  `yaml:"version"`
	StorageIdentifier      string               `yaml:"storage_identifier"`
	Duration               durationYAML         `yaml:"duration"`
	StartingTime           timeYAML             `yaml:"starting_time"`
	MessageCount           uint64               `yaml:"message_count"`
	TopicsWithMessageCount []topicWithCountYAML `yaml:"topics_with_message_count"`
	CompressionFormat      string               `yaml:"compression_format"`
	CompressionMode        string               `yaml:"compression_mode"`
	RelativeFilePaths      []string             `yaml:"relative_file_paths"`
	Files                  []fileYAML           `yaml:"files,omitempty"`
	CustomData             map[string]string    `yaml:"custom_data,omitempty"`
	ROSDistro              string               `yaml:"ros_distro,omitempty"`
}

type durationYAML struct {
	Nanoseconds int64 `yaml:"nanoseconds"`
}

type timeYAML struct {
	NanosecondsSinceEpoch int64 `yaml:"nanoseconds_since_epoch"`
}

type topicWithCountYAML struct {
	TopicMetadata topicMetadataYAML `yaml:"topic_metadata"`
	MessageCount  uint64            `yaml:"message_count"`
}

type topicMetadataYAML struct {
	Name                string `yaml:"name"`
	Type                string `yaml:"type"`
	SerializationFormat string `yaml:"serialization_format"`
	OfferedQoSProfiles  string `yaml:"offered_qos_profiles"`
	TypeDescriptionHash string `yaml:"type_description_hash,omitempty"`
}

type fileYAML struct {
	Path         string       `yaml:"path"`
	StartingTime timeYAML     `yaml:"starting_time"`
	Duration     durationYAML `yaml:"duration"`
	MessageCount uint64       `yaml:"message_count"`
}

// readMetadata parses and checks a metadata.yaml file.
func readMetadata(path string) (bagMetadata, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return bagMetadata{}, err
	}
	return parseMetadata(raw, path)
}

func parseMetadata(raw []byte, name string) (bagMetadata, error) {
	var file metadataFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&file); err != nil {
		return bagMetadata{}, fmt.Errorf("%s: not a rosbag2 metadata file: %w", name, err)
	}
	md := file.Info
	if md.Version == 0 {
		return bagMetadata{}, fmt.Errorf("%s: missing rosbag2_bagfile_information.version", name)
	}
	if md.Version < minMetadataVersion || md.Version > maxMetadataVersion {
		return bagMetadata{}, fmt.Errorf("%s: metadata version %d not supported, expected %d to %d",
			name, md.Version, minMetadataVersion, maxMetadataVersion)
	}
	if md.StorageIdentifier != storageSQLite3 && md.StorageIdentifier != storageMCAP {
		return bagMetadata{}, fmt.Errorf("%s: storage_identifier %q not supported, expected %q or %q",
			name, md.StorageIdentifier, storageSQLite3, storageMCAP)
	}
	// The bag's end is its start plus its duration: rosbag2 writes a duration >= 0 and an end that
	// fits (an empty bag: the largest start, duration 0); an edited one would end before it starts.
	if md.Duration.Nanoseconds < 0 {
		return bagMetadata{}, fmt.Errorf("%s: duration.nanoseconds is %d, expected >= 0", name, md.Duration.Nanoseconds)
	}
	if start := md.StartingTime.NanosecondsSinceEpoch; start > math.MaxInt64-md.Duration.Nanoseconds {
		return bagMetadata{}, fmt.Errorf("%s: starting_time.nanoseconds_since_epoch %d plus duration.nanoseconds %d is past the largest time (%d), expected an end that fits",
			name, start, md.Duration.Nanoseconds, int64(math.MaxInt64))
	}
	if len(md.RelativeFilePaths) == 0 {
		return bagMetadata{}, fmt.Errorf("%s: relative_file_paths is empty, expected at least one storage file", name)
	}
	return md, nil
}

// writeMetadata writes md as a version 5 metadata.yaml.
func writeMetadata(path string, md bagMetadata) error {
	out, err := yaml.Marshal(metadataFile{Info: md})
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	// Written beside it and renamed over it: a writer killed while it rewrites the provisional file
	// leaves the last whole one, not half of a new one. Not synced: it is rewritten every second
	// while recording, and what survives a power cut is the storage files' business.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(out)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
