// Package diskfull runs part of a test in a child process whose files cannot grow past a size limit
// (RLIMIT_FSIZE), so that a write fails part way with "file too large" as it would on a full disk.
// Tests use it to show that a writer leaves the file or bundle it was replacing as it was.
package diskfull

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

const (
	testEnv   = "DYSL_DISKFULL_TEST"
	argEnv    = "DYSL_DISKFULL_ARG"
	resultTag = "diskfull-result: "
)

// Run runs body(arg) in a copy of the test binary that runs only t's test, with no file it writes
// allowed past limit bytes, and returns body's error (its text) and tmp. The child runs t's test from its
// start, so what comes before Run must be safe to repeat; arg carries paths made by the parent.
// The child's TMPDIR is the returned tmp, a directory of the parent's test, so that the test can
// look there for temporary files a failed write left behind (DotFiles); the child's own test
// directories are made there too.
func Run(t *testing.T, limit uint64, arg string, body func(arg string) error) (tmp string, err error) {
	t.Helper()
	if os.Getenv(testEnv) == t.Name() {
		if e := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); e != nil {
			fmt.Printf("%ssetrlimit: %v\n", resultTag, e)
			os.Exit(0)
		}
		result := "ok"
		if e := body(os.Getenv(argEnv)); e != nil {
			result = "error: " + strings.ReplaceAll(e.Error(), "\n", " ")
		}
		fmt.Printf("%s%s\n", resultTag, result)
		os.Exit(0)
	}
	tmp = t.TempDir()
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(pattern, "/"), "-test.count=1")
	cmd.Env = append(os.Environ(), testEnv+"="+t.Name(), argEnv+"="+arg, "TMPDIR="+tmp)
	out, runErr := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		result, ok := strings.CutPrefix(line, resultTag)
		if !ok {
			continue
		}
		if result == "ok" {
			return tmp, nil
		}
		return tmp, errors.New(strings.TrimPrefix(result, "error: "))
	}
	t.Fatalf("diskfull: the child process said nothing of its result (%v):\n%s", runErr, out)
	return tmp, nil
}

// Snapshot returns every file under dir by its path relative to dir, with the SHA-256 of its
// contents: what a test compares before and after a write that failed (a hash, so that a failure
// prints which files changed, not megabytes of graphs).
func Snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// LargestFile is the size of the largest file under dir: a limit above it lets a copy of dir be made.
func LargestFile(t *testing.T, dir string) int64 {
	t.Helper()
	var largest int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			largest = max(largest, info.Size())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return largest
}

// DotFiles lists the files and directories under dir whose names begin with a dot: where the
// writers of this module leave their temporary files (renameio's, bundle.Replace's staging) while
// they write, and where none must be left once they have failed.
func DotFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && path != dir && strings.HasPrefix(d.Name(), ".") {
			found = append(found, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
