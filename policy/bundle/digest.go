package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Digest is the SHA-256 of a bundle's contents: every file's path within dir, size and bytes, in
// path order. Hidden entries (a name starting with "."), such as the TensorRT engine caches under
// .trt/, are left out: ONNX Runtime writes them while it runs a bundle, and they do not change what
// the bundle computes. Two bundles with the same digest are the same model, wherever they lie.
func Digest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // directories are named by their files' paths
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		// The path and size frame the bytes, so that no two different bundles hash alike.
		fmt.Fprintf(h, "%q %d\n", filepath.ToSlash(rel), info.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("bundle: digest of %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
