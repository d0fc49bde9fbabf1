package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend/orttest"
)

// stopWhen is a stderr that ends a context when a line it is waiting for is written: the test's
// Ctrl-C, at a known point of the run.
type stopWhen struct {
	lockedBuilder
	line string
	stop func()
}

func (w *stopWhen) Write(p []byte) (int, error) {
	n, err := w.lockedBuilder.Write(p)
	if strings.Contains(w.String(), w.line) {
		w.stop()
	}
	return n, err
}

// Stopped once full and dysl are played, evaluate --closed-loop prints the report of what was played,
// marked as stopped, writes it to --json-out too, and still fails: a script must not take the
// report for a whole one. Run again with its journal, it plays what is left.
func TestClosedLoopEvaluateStoppedPrintsWhatWasPlayed(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the reference model in closed loop")
	}
	dir := t.TempDir()
	jsonOut, journal := filepath.Join(dir, "report.json"), filepath.Join(dir, "evaluate.journal")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stderr := &stopWhen{line: "closed loop: ablations and baselines on the same", stop: func() { cancel(errors.New("interrupt signal received")) }}
	root := newRootCmd()
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(stderr)
	args := []string{"evaluate", "--closed-loop", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--ort-lib", orttest.Library(t),
		"--episodes", "2", "--max-steps", "10", "--variants", "static_only", "--json-out", jsonOut, "--journal", journal}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	require.EqualError(t, err, "closedloop: stopped after 0 of 2 episodes of the second phase: interrupt signal received; the same command continues from the journal "+journal)
	require.Contains(t, stdout.String(), "STOPPED before the end: full and dysl played all 2 episodes; the ablations and baselines the first 0 of them")
	text, rerr := os.ReadFile(jsonOut)
	require.NoError(t, rerr)
	var rep struct {
		Stopped  string `json:"stopped"`
		Variants []struct {
			Variant  string `json:"variant"`
			Episodes int    `json:"episodes"`
		} `json:"variants"`
	}
	require.NoError(t, json.Unmarshal(text, &rep))
	require.Contains(t, rep.Stopped, "the first 0 of them")
	require.Len(t, rep.Variants, 3)
	require.Equal(t, 2, rep.Variants[0].Episodes, rep.Variants[0].Variant)
	require.Equal(t, 0, rep.Variants[2].Episodes, rep.Variants[2].Variant)

	out, stderrText, err := runDysl(args...)
	require.NoError(t, err)
	require.NotContains(t, out, "STOPPED")
	require.Contains(t, out, "note: resumed from the journal "+journal+": 2 rounds")
	require.Contains(t, stderrText, "closed-loop episodes 100% |")
}

// A --json-out that cannot be written at the end of a run still leaves the report printed, and the
// error names the flag.
func TestReportIsPrintedWhenItsFileCannotBeWritten(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "removed", "report.json")
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		cmd := newRootCmd()
		cmd.SetOut(&out)
		err := writeReport(cmd, gone, asJSON, map[string]int{"episodes": 3}, func(w io.Writer) { io.WriteString(w, "the table\n") })
		require.ErrorContains(t, err, "--json-out "+gone+": ")
		if asJSON {
			require.JSONEq(t, `{"episodes": 3}`, out.String())
		} else {
			require.Equal(t, "the table\n", out.String())
		}
	}
}

// --camera-size plays the episodes with camera frames of that size, which the node core converts to
// the model's input as it converts a robot camera's; the report says so.
func TestClosedLoopEvaluateWithALargerCamera(t *testing.T) {
	out, _, err := runDysl("evaluate", "--closed-loop", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--ort-lib", orttest.Library(t),
		"--tasks", "single", "--episodes", "1", "--max-steps", "5", "--variants", "full,dysl", "--latency", "fixed", "--camera-size", "96x72")
	require.NoError(t, err)
	require.Contains(t, out, "camera frames 96x72, converted to the model's input (64x64)")
}
