package closedloop

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The machine that computed a run is printed under the configuration, and kept in the JSON: two
// processors can give the same binary and bundle other successes, so a figure travels with it.
func TestReportNamesTheMachine(t *testing.T) {
	rep := &Report{Model: "m", Layers: 8, DySL: "tau 0.5", Machine: "AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"}
	var out bytes.Buffer
	WriteReport(&out, rep)
	require.Contains(t, out.String(), "dysl config: tau 0.5\nmachine: AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu\n\n")
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Contains(t, string(js), `"machine":"AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"`)
}

// The sweep's report names it likewise.
func TestSweepReportNamesTheMachine(t *testing.T) {
	rep := &SweepReport{Model: "m", Layers: 8, Latency: "measured", Machine: "NVIDIA Jetson AGX Orin Developer Kit (arm64), 12 cores, ONNX Runtime 1.24.1, provider cuda"}
	var out bytes.Buffer
	WriteSweep(&out, rep)
	require.Contains(t, out.String(), "latency measured\nmachine: NVIDIA Jetson AGX Orin Developer Kit (arm64), 12 cores, ONNX Runtime 1.24.1, provider cuda\n\nseries ")
}

// A journal records the machine that began it. A run resumed on another machine says, in the report's
// note, where the rounds it took from the journal were played; on the same machine, or with a journal
// that names none (written before it was recorded), the note says nothing of it.
func TestResumedOnAnotherMachineSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	id := identity(map[string]any{"bundle": "abc"})
	j, err := openJournal(path, "evaluation", "AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu", id)
	require.NoError(t, err)
	require.NoError(t, j.record("first phase", 1, []*episodeRecord{recordOf("full", Episode{Tasks: 1})}))
	require.NoError(t, j.Close())
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(text), `"machine":"AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"`)

	resume := func(machine string) string {
		j, err := openJournal(path, "evaluation", machine, id)
		require.NoError(t, err, "another machine is the same run")
		defer j.Close()
		_, ok := j.round("first phase", 1)
		require.True(t, ok)
		return j.resumedNote()
	}
	note := resume("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz, 2 cores, ONNX Runtime 1.24.1, provider cpu")
	require.Contains(t, note, "They were played on AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu, the rest on Intel(R) Xeon(R)")
	require.Contains(t, note, "so the figures mix two machines")
	require.NotContains(t, resume("AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"), "played on")

	older := filepath.Join(t.TempDir(), "older.journal")
	require.NoError(t, os.WriteFile(older, []byte(strings.Replace(string(text), `,"machine":"AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"`, "", 1)), 0o644))
	j, err = openJournal(older, "evaluation", "Intel Xeon", id)
	require.NoError(t, err)
	defer j.Close()
	_, ok := j.round("first phase", 1)
	require.True(t, ok)
	require.NotContains(t, j.resumedNote(), "played on")
}
