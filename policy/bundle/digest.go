package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

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
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%q %d\n", filepath.ToSlash(name), info.Size())
	_, err = io.Copy(h, f)
	return err
}
