package bag

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzOpenMCAP feeds arbitrary bytes to the reader as a lone .mcap file: opening it and reading every
// message must end in messages or an error, never a panic or an allocation a header claims (one such
// length made the index reader panic with makeslice).
func FuzzOpenMCAP(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "humble", "pub_mcap", "pub_mcap_0.mcap"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.mcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			return
		}
		defer r.Close()
		for _, err := range r.Messages() {
			if err != nil && !errors.Is(err, io.EOF) {
				var corrupt *CorruptFileError
				if !errors.As(err, &corrupt) {
					t.Fatalf("a fault that names no file: %v", err)
				}
				return
			}
		}
	})
}

// FuzzMetadata feeds arbitrary bytes to a bag directory as its metadata.yaml, beside a real storage
// file: opening the bag must end in a reader or an error naming the metadata file or the bag, never a
// panic, and a bag that opens must not say it ends before it starts (a duration that, added to the
// start, wraps around or goes back).
func FuzzMetadata(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*", "*", MetadataFileName))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range fixtures {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// What writeMetadata writes of it (bag gen and the recorder write through it).
		md, err := parseMetadata(data, path)
		if err != nil {
			f.Fatal(err)
		}
		written, err := yaml.Marshal(metadataFile{Info: md})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(written)
	}
	storage, err := filepath.Abs(filepath.Join("testdata", "humble", "pub_mcap", "pub_mcap_0.mcap"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, MetadataFileName)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(storage, filepath.Join(dir, "pub_mcap_0.mcap")); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("an error that names neither the bag nor its metadata: %v", err)
			}
			return
		}
		defer r.Close()
		if info := r.Info(); info.End < info.Start {
			t.Fatalf("the bag ends (%d) before it starts (%d)", info.End, info.Start)
		}
	})
}
