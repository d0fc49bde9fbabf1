package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/spf13/pflag"

	"dysl_vla/plots"
	"dysl_vla/policy/bundle"
	"dysl_vla/realpath"
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
	annotate(fs, name, outputFileAnnotation, map[bool]string{false: "", true: "mkdir"}[makesDir])
}

// annotate sets a flag's annotation key to values.
func annotate(fs *pflag.FlagSet, name, key string, values ...string) {
	if err := fs.SetAnnotation(name, key, values); err != nil {
		panic(err) // a flag registered under another name: a programming error
	}
}

// plotFileAnnotation marks an output file flag that takes a plot, whose format its extension picks.
const plotFileAnnotation = "dysl_plot_file"

// markPlotFile marks the flag name on fs as a plot written at the end of the command's work: an
// output file (markOutputFile) whose extension must name a format the plots can take.
func markPlotFile(fs *pflag.FlagSet, name string) {
	markOutputFile(fs, name, false)
	annotate(fs, name, plotFileAnnotation)
}

// inputAnnotation marks a flag naming what the command reads: a file (weights, visited states) or
// a bundle directory, whose manifest and graphs the command reads and may rewrite itself.
const inputAnnotation = "dysl_input"

// What an input flag names (its inputAnnotation value).
const (
	inputFile            = "file"
	inputBundle          = "bundle"
	inputLabelledBundles = "labelled bundles" // LABEL:DIR values, as sweep's --bundle takes them
)

// markInput marks the flag name on fs as what the command reads, of kind inputFile, inputBundle or
// inputLabelledBundles, so that no output flag is given the same file (checkOutputFiles).
func markInput(fs *pflag.FlagSet, name, kind string) {
	annotate(fs, name, inputAnnotation, kind)
}

// parseLabelledBundle splits a LABEL:DIR value of sweep's --bundle.
func parseLabelledBundle(value string) (label, dir string, err error) {
	label, dir, ok := strings.Cut(value, ":")
	if !ok || label == "" || dir == "" {
		return "", "", fmt.Errorf("--bundle %q: expected LABEL:DIR, e.g. lambda=0.1:models/lambda0.1", value)
	}
	return label, dir, nil
}

// checkOutputFiles checks every output file flag given on fs before the work begins: that it can be
// written (checkWritable), that a plot's extension names a format, and that it is none of the
// command's other files: an input, another output, or the manifest or a graph of a bundle the
// command reads. Written over, each of those would be lost at the end of the run, or corrupt the
// bundle, with nothing said.
func checkOutputFiles(fs *pflag.FlagSet) error {
	type named struct{ flag, path string }
	var outputs, inputs []named
	var bundles []named
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Changed && f.Value.String() == "" {
			return
		}
		if kind, ok := f.Annotations[inputAnnotation]; ok {
			for _, path := range flagPaths(f) {
				switch kind[0] {
				case inputBundle:
					bundles = append(bundles, named{f.Name, path})
				case inputLabelledBundles:
					if _, dir, e := parseLabelledBundle(path); e == nil { // a malformed one is refused later
						bundles = append(bundles, named{f.Name, dir})
					}
				default:
					inputs = append(inputs, named{f.Name, path})
				}
			}
		}
		mark, ok := f.Annotations[outputFileAnnotation]
		if !ok || f.Value.String() == "" || err != nil {
			return
		}
		if e := checkWritable(f.Value.String(), mark[0] == "mkdir"); e != nil {
			err = fmt.Errorf("--%s %s: %w", f.Name, f.Value, e)
			return
		}
		if _, plot := f.Annotations[plotFileAnnotation]; plot {
			if e := plots.CheckFormat(f.Value.String()); e != nil {
				err = fmt.Errorf("--%s: %w", f.Name, e)
				return
			}
		}
		outputs = append(outputs, named{f.Name, f.Value.String()})
	})
	if err != nil || len(outputs) == 0 {
		return err // nothing to write over: the bundles' manifests need not be read
	}
	for _, b := range bundles {
		for _, file := range bundle.OwnFiles(b.path) {
			inputs = append(inputs, named{b.flag + " (its " + file + ")", filepath.Join(b.path, file)})
		}
	}
	for i, out := range outputs {
		for _, other := range append(slices.Clone(outputs[:i]), inputs...) {
			if samePath(out.path, other.path) {
				return fmt.Errorf("--%s %s is also --%s: expected a file of its own, or the run would write over it", out.flag, out.path, other.flag)
			}
		}
	}
	return nil
}

// flagPaths are the paths a flag names: its value, or each of a list's.
func flagPaths(f *pflag.Flag) []string {
	if list, ok := f.Value.(pflag.SliceValue); ok {
		return list.GetSlice()
	}
	if f.Value.String() == "" {
		return nil
	}
	return []string{f.Value.String()}
}

// samePath says whether a and b name the same file: the same path once absolute with their links
// followed, or, both existing, the same file by another name (a hard link).
func samePath(a, b string) bool {
	if realpath.Of(a) == realpath.Of(b) {
		return true
	}
	infoA, errA := os.Stat(a)
	infoB, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(infoA, infoB)
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
