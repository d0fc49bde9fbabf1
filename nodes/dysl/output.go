package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/spf13/pflag"
)

// writeJSON prints v as indented JSON, what the --json flags print.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONFile writes v as writeJSON does to path, replacing the file whole; nothing when path is
// empty.
func writeJSONFile(path string, v any) error {
	if path == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return err
	}
	return renameio.WriteFile(path, buf.Bytes(), 0o644)
}

// outputFileAnnotation marks a flag whose value is a file the command writes when its work is done.
// Its value says whether the command makes the file's directory ("mkdir") or not ("").
const outputFileAnnotation = "dysl_output_file"

// markOutputFile marks the flag name on fs as a file written at the end of the command's work (a
// plot, a report, visited states, weights). The root command checks it before that work begins: a
// training run or a sweep of hours must not be lost to a mistyped path at its end. makesDir says the
// command creates the file's directory when it is missing.
func markOutputFile(fs *pflag.FlagSet, name string, makesDir bool) {
	value := ""
	if makesDir {
		value = "mkdir"
	}
	if err := fs.SetAnnotation(name, outputFileAnnotation, []string{value}); err != nil {
		panic(err) // a flag registered under another name: a programming error
	}
}

// checkOutputFiles checks every output file flag given on fs (checkWritable).
func checkOutputFiles(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		mark, ok := f.Annotations[outputFileAnnotation]
		if !ok || f.Value.String() == "" || err != nil {
			return
		}
		if e := checkWritable(f.Value.String(), mark[0] == "mkdir"); e != nil {
			err = fmt.Errorf("--%s %s: %w", f.Name, f.Value, e)
		}
	})
	return err
}

// checkWritable says why a file could not be written at path: a directory there, or a directory
// (the nearest existing one, when the command makes the rest) that is not one or cannot be written,
// as a trial file in it finds. Nothing is left behind.
func checkWritable(path string, makesDir bool) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return errors.New("is a directory, expected a file")
	}
	dir := filepath.Dir(path)
	for makesDir {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	info, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return err
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	trial, err := os.CreateTemp(dir, ".dysl-write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	trial.Close()
	return os.Remove(trial.Name())
}
