// Package realpath says where a path leads: absolute, with its symbolic links followed, as far as
// they exist and one step beyond, so that two flags naming the same file (or one inside the other)
// are told apart from two files before a command writes either.
package realpath

import (
	"os"
	"path/filepath"
)

// Of is path made absolute with its symbolic links followed, also a last one whose target does not
// exist yet: a report written through a link to a file not yet made lands on that file, and an
// output directory not yet made lies where its parent's links lead.
func Of(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	for range 40 { // as many links as Linux follows
		if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			p = filepath.Join(dir, filepath.Base(p))
		}
		target, err := os.Readlink(p)
		if err != nil {
			return p
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	return p
}
