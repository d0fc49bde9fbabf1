// Package realpath says where a path leads: absolute, with its symbolic links followed, as far as
// they exist and one step beyond, so that two flags naming the same file (or one inside the other)
// are told apart from two files before a command writes either.
package realpath

import (
	"os"
	"path/filepath"
)

// Of is path made absolute with its symbolic links followed, also a last one whose target does not
// exist yet: a report written through a link to a file not yet made lands on that file, and a path
// of directories not yet made lies where the links of its deepest existing one lead.
func Of(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	for range 40 { // as many links as Linux follows
		p = resolveAncestors(p)
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

// resolveAncestors resolves the links of the deepest existing directory above p and keeps the rest
// of p as written: "L/bag/a/b", L a link and a/b not made yet, is where L leads, then bag/a/b.
func resolveAncestors(p string) string {
	dir, rest := filepath.Dir(p), filepath.Base(p)
	for {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		dir, rest = parent, filepath.Join(filepath.Base(dir), rest)
	}
}
