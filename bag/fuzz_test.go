package bag

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
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
