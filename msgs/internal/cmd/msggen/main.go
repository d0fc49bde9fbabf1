// Command msggen writes the Go message code of package msgs from its .msg
// and .srv files; `go generate ./msgs` runs it in the msgs folder.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"dysl_vla/msgs/internal/msggen"
)

func main() {
	dir := flag.String("dir", ".", "the msgs package folder: msg/, upstream/, testdata/fixtures/ in, *"+msggen.GeneratedSuffix+" and *"+msggen.FixtureSuffix+" out")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "msggen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := msggen.Generate(os.DirFS(dir), msggen.MsgsAPI)
	if err != nil {
		return err
	}
	// A generated file that is no longer produced (its package's last
	// definition went away) is removed, so it cannot linger and compile.
	var old []string
	for _, suffix := range []string{msggen.GeneratedSuffix, msggen.FixtureSuffix} {
		matches, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
		if err != nil {
			return err
		}
		old = append(old, matches...)
	}
	for _, path := range old {
		if _, keep := files[filepath.Base(path)]; !keep {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := files[name]
		path := filepath.Join(dir, name)
		if current, err := os.ReadFile(path); err == nil && bytes.Equal(current, src) {
			continue
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return err
		}
		fmt.Println("msggen: wrote", strings.TrimPrefix(path, "./"))
	}
	return nil
}
