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
	require.Equal(t, []string{"dysl calibrate --plot", "dysl distill --plot", "dysl evaluate --json-out", "dysl sweep --json-out",
		"dysl sweep --plot", "dysl train bc --out", "dysl train bc --plot", "dysl train dagger --out"}, marked)

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
