package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// markedOutputFlags lists "command path --flag" for every flag marked as an output file.
func markedOutputFlags(cmd *cobra.Command) []string {
	var out []string
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[outputFileAnnotation]; ok {
			out = append(out, cmd.CommandPath()+" --"+f.Name)
		}
	})
	for _, c := range cmd.Commands() {
		out = append(out, markedOutputFlags(c)...)
	}
	return out
}

// Every file a command writes after its work is checked before the work: each marked flag pointing
// below a regular file stops its command at once, naming the flag, before any other check.
func TestOutputFilesAreCheckedBeforeTheWork(t *testing.T) {
	marked := markedOutputFlags(newRootCmd())
	slices.Sort(marked)
	require.Equal(t, []string{"dysl calibrate --plot", "dysl distill --plot", "dysl evaluate --journal", "dysl evaluate --json-out",
		"dysl sweep --journal", "dysl sweep --json-out", "dysl sweep --plot", "dysl train bc --out", "dysl train bc --plot",
		"dysl train dagger --out"}, marked)

	file := filepath.Join(t.TempDir(), "a_file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, m := range marked {
		words := strings.Fields(m)
		args := append(words[1:], filepath.Join(file, "x.out"))
		_, _, err := runDysl(args...)
		require.EqualError(t, err, words[len(words)-1]+" "+filepath.Join(file, "x.out")+": "+file+" is not a directory", m)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, checkWritable(filepath.Join(dir, "plot.png"), false))
	require.EqualError(t, checkWritable(dir, false), "is a directory, expected a file")
	missing := filepath.Join(dir, "runs", "today")
	require.EqualError(t, checkWritable(filepath.Join(missing, "w.safetensors"), false), "directory "+missing+" does not exist")
	require.NoError(t, checkWritable(filepath.Join(missing, "w.safetensors"), true), "a command that makes the directory needs only its nearest existing one")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the trial files are removed, and nothing is made")

	if os.Geteuid() != 0 { // root writes in a read-only directory
		readOnly := filepath.Join(dir, "read_only")
		require.NoError(t, os.Mkdir(readOnly, 0o555))
		require.ErrorContains(t, checkWritable(filepath.Join(readOnly, "x.json"), false), "cannot write in "+readOnly)
	}
}

// An output given the path of another of the command's files is refused before the work: an input,
// another output, or the manifest or a graph of a bundle the command reads; so is a plot whose
// extension names no format. Each would otherwise be written over, or fail, at the end of the run.
func TestOutputsThatWouldWriteOverAnotherFileAreRefused(t *testing.T) {
	model := filepath.Join("..", "..", "models", "reference", "tiny")
	weights := filepath.Join("..", "..", "models", "reference", "reference_tiny.safetensors")
	dir := t.TempDir()
	same := filepath.Join(dir, "same.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "dagger", "--model", model, "--out", filepath.Join(model, "manifest.yaml")},
			"--out " + filepath.Join(model, "manifest.yaml") + " is also --model (its manifest.yaml): expected a file of its own, or the run would write over it"},
		{[]string{"train", "dagger", "--model", model, "--out", filepath.Join(model, "layer_03.onnx")},
			"is also --model (its layer_03.onnx)"},
		{[]string{"sweep", "--model", dir, "--bundle", "lambda=0.1:" + model, "--json-out", filepath.Join(model, "manifest.yaml")},
			"--json-out " + filepath.Join(model, "manifest.yaml") + " is also --bundle (its manifest.yaml)"},
		{[]string{"evaluate", "--closed-loop", "--model", model, "--json-out", same, "--journal", same},
			"--json-out " + same + " is also --journal"},
		{[]string{"train", "bc", "--out", filepath.Join(dir, "w.png"), "--plot", filepath.Join(dir, "w.png")}, "--plot " + filepath.Join(dir, "w.png") + " is also --out"},
		{[]string{"train", "bc", "--out", weights, "--init", weights}, "--out " + weights + " is also --init"},
		{[]string{"calibrate", "--model", model, "--weights", weights, "--plot", weights}, "--plot: plots: " + weights + ": unsupported format: \"safetensors\""},
		{[]string{"distill", "--model", model, "--plot", filepath.Join(dir, "loss.txt")}, "--plot: plots: " + filepath.Join(dir, "loss.txt") + ": unsupported format: \"txt\" (expected .png, .svg, .pdf, .eps, .jpg or .tif)"},
	} {
		_, _, err := runDysl(tc.args...)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	// A link to a file not made yet is that file: the report would replace the journal through it.
	link := filepath.Join(dir, "link.json")
	require.NoError(t, os.Symlink("target.json", link))
	_, _, err := runDysl("evaluate", "--closed-loop", "--model", model, "--json-out", filepath.Join(dir, "target.json"), "--journal", link)
	require.ErrorContains(t, err, "--json-out "+filepath.Join(dir, "target.json")+" is also --journal")

	// The bundle's other files are fair: a report beside its graphs.
	require.NoError(t, checkPathsOf(t, "train", "dagger", "--model", model, "--out", filepath.Join(dir, "states.json")))
}

// checkPathsOf runs only the root's checks of the output flags on the command args name.
func checkPathsOf(t *testing.T, args ...string) error {
	t.Helper()
	cmd, rest, err := newRootCmd().Find(args)
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(rest))
	return checkOutputFiles(cmd.Flags())
}
