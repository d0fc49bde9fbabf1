package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/renameio/v2"
	"gopkg.in/yaml.v3"
)

// Digest is the SHA-256 of what a bundle computes with: its manifest, every graph the manifest
// names and the external data files those graphs refer to (where large weights lie), each by its
// name, size and bytes, in name order. The manifest counts as the settings it holds (re-encoded, so
// its layout and comments do not count) less provenance.created: the same model built twice, at two
// times, is one model. Whatever else lies in the directory (reports, plots, the TensorRT engine
// caches ONNX Runtime writes under .trt/) is left out. Two bundles with the same digest are the same
// model, wherever they lie.
func Digest(dir string) (string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return "", fmt.Errorf("bundle: digest of %s: %w", dir, err)
	}
	names := m.computeFiles(dir)
	slices.Sort(names)
	names = slices.Compact(names)
	h := sha256.New()
	settings := *m
	settings.Provenance.Created = ""
	settings.SHA256 = nil // the files themselves are hashed below
	text, err := yaml.Marshal(&settings)
	if err != nil {
		return "", fmt.Errorf("bundle: digest of %s: %w", dir, err)
	}
	fmt.Fprintf(h, "%q %d\n", ManifestFile, len(text))
	h.Write(text)
	for _, name := range names {
		if err := digestFile(h, dir, name); err != nil {
			return "", fmt.Errorf("bundle: digest of %s: %w", dir, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestFile adds one file to h, framed by its name and size so that no two bundles hash alike.
func digestFile(h io.Writer, dir, name string) error {
	return readInto(h, filepath.Join(dir, name), func(size int64) {
		fmt.Fprintf(h, "%q %d\n", filepath.ToSlash(name), size)
	})
}

// readInto writes the bytes of the file at path to w, after head, when given, has been told its size.
func readInto(w io.Writer, path string, head func(size int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if head != nil {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		head(info.Size())
	}
	_, err = io.Copy(w, f)
	return err
}

// fileSums is the SHA-256 of each of names (relative to dir) that exists, by name; nil for none.
func fileSums(dir string, names []string) (map[string]string, error) {
	var sums map[string]string
	for _, name := range names {
		sum, err := fileSum(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not written yet: a tool writing the bundle step by step
		}
		if err != nil {
			return nil, err
		}
		if sums == nil {
			sums = map[string]string{}
		}
		sums[filepath.ToSlash(name)] = sum
	}
	return sums, nil
}

func fileSum(path string) (string, error) {
	h := sha256.New()
	if err := readInto(h, path, nil); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckRecordedFiles compares the graphs and external data files of the bundle in dir with the
// SHA-256 its manifest recorded when a tool last wrote it: a file replaced since, by hand or by a
// copy from another bundle of the same shapes, is named, with the digest that would record it. A
// manifest without the record (written before it was kept) is not compared. Load calls it, so the
// node and every tool refuse such a bundle, not `dysl model check` alone.
func CheckRecordedFiles(dir string, m *Manifest) []Problem {
	if m.SHA256 == nil {
		return nil
	}
	var problems []Problem
	for _, name := range m.computeFiles(dir) {
		want, recorded := m.SHA256[filepath.ToSlash(name)]
		got, err := fileSum(filepath.Join(dir, name))
		switch {
		case err != nil:
			problems = append(problems, Problem{File: name, Message: err.Error()})
		case !recorded:
			problems = append(problems, Problem{File: name, Field: "sha256", Message: "has no digest in the manifest: it was added after the tools last wrote the bundle. " +
				"If it is meant, run `dysl model check --record-digests " + dir + "`, which records the files once the graphs pass its checks"})
		case got != want:
			problems = append(problems, Problem{File: name, Field: "sha256", Message: fmt.Sprintf(
				"is not the file the tools wrote (sha256 %s, recorded %s): replaced since, perhaps by another bundle's of the same shapes. "+
					"Rebuild the bundle; or, if the replacement is meant, record it: set sha256[%s] in %s to %s (or remove the table), "+
					"or run `dysl model check --record-digests %s`, which records the files once the graphs pass its checks",
				got[:12], want[:12], filepath.ToSlash(name), ManifestFile, got, dir)})
		}
	}
	return problems
}

// RecordDigests writes into the manifest of the bundle in dir the SHA-256 of each graph and external
// data file as they are now: for a graph replaced on purpose, which Load otherwise refuses. The bundle
// must pass every other check of Load first. It returns the files whose digest it added, changed or
// dropped (none: the manifest is left untouched), and restore, which writes back the manifest as it was, for
// a caller whose later checks of the recorded bundle fail. The manifest is written by the tools'
// encoder, as every tool that changes a bundle writes it: comments and layout are not kept.
func RecordDigests(dir string) (changed []string, restore func() error, err error) {
	b, err := load(dir, false)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, ManifestFile)
	original, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: %w", err)
	}
	m := b.Manifest
	sums, err := fileSums(dir, m.computeFiles(dir))
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: %w", err)
	}
	for name, sum := range sums {
		if m.SHA256[name] != sum {
			changed = append(changed, name)
		}
	}
	for name := range m.SHA256 {
		if _, named := sums[name]; !named {
			changed = append(changed, name) // a file the manifest no longer names
		}
	}
	slices.Sort(changed)
	restore = func() error {
		if err := renameio.WriteFile(path, original, 0o644); err != nil {
			return fmt.Errorf("bundle: restoring %s: %w", path, err)
		}
		return nil
	}
	if len(changed) == 0 {
		return nil, restore, nil
	}
	if err := writeManifest(dir, &m, sums); err != nil { // the files hashed once, here
		return nil, nil, err
	}
	return changed, restore, nil
}
