package closedloop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
)

// A journal gives back what it was given after it is closed and opened again, refuses a run of
// other options or another kind, naming what differs, and is held by one run at a time.
func TestJournalReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	id := map[string]any{"bundle": "abc", "seeds": []int64{1, 2}, "latency": "measured"}
	j, err := openJournal(path, "sweep", "", identity(id))
	require.NoError(t, err)
	_, err = openJournal(path, "sweep", "", identity(id))
	require.ErrorContains(t, err, "closedloop: journal "+path+" is in use by another run")
	ep := Episode{Tasks: 1, Completed: 1, Steps: 40, Inferences: 9, LayersExecuted: 60, EngineTime: 1234567, Nearest: []float64{0.004}, Gap: []float64{0.12}}
	ep.Legs.Attempts[LegApproach], ep.Legs.Achieved[LegApproach] = 1, 1
	require.NoError(t, j.record("first phase", 2, []*episodeRecord{recordOf("full", ep), nil}))
	var picked struct{ Tau float64 }
	require.NoError(t, j.decide("flexidepth tau", &picked, func() error { picked.Tau = 0.25; return nil }))
	require.NoError(t, j.Close())

	j, err = openJournal(path, "sweep", "", identity(id))
	require.NoError(t, err)
	defer j.Close()
	round, ok := j.round("first phase", 2)
	require.True(t, ok)
	require.Len(t, round, 2)
	require.Nil(t, round[1])
	got := round[0].episode()
	require.Equal(t, ep.Steps, got.Steps)
	require.Equal(t, ep.EngineTime, got.EngineTime)
	require.Equal(t, ep.Legs, got.Legs)
	require.Equal(t, ep.Nearest, got.Nearest)
	_, ok = j.round("first phase", 1)
	require.False(t, ok)
	_, ok = j.round("second phase", 2)
	require.False(t, ok)
	require.Equal(t, 1, j.Reused())
	picked.Tau = 0
	require.NoError(t, j.decide("flexidepth tau", &picked, func() error { t.Fatal("decided again"); return nil }))
	require.Equal(t, 0.25, picked.Tau)
	require.NoError(t, j.Close())

	_, err = openJournal(path, "sweep", "", identity(map[string]any{"bundle": "abd", "seeds": []int64{1, 2, 3}, "latency": "measured"}))
	require.EqualError(t, err, "closedloop: journal "+path+" was written with other options (it differs in bundle, seeds): remove it, or name another journal, to start afresh")
	_, err = openJournal(path, "sweep", "", identity(map[string]any{"bundle": "abc", "seeds": []int64{1, 2}}))
	require.ErrorContains(t, err, "(it differs in latency)")
	_, err = openJournal(path, "evaluation", "", identity(id))
	require.EqualError(t, err, "closedloop: journal "+path+" was written by dysl sweep, not dysl evaluate --closed-loop: name another journal")
}

// A line torn by a crash is dropped and written over; a line damaged in the middle is refused with
// its number; a file that is not a journal is refused before anything is written to it.
func TestJournalTornAndDamagedLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.journal")
	id := map[string]any{"seeds": []int64{5}}
	j, err := openJournal(path, "sweep", "", identity(id))
	require.NoError(t, err)
	require.NoError(t, j.record("first phase", 5, []*episodeRecord{{Variant: "full", Steps: 7}}))
	require.NoError(t, j.Close())
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, whole...), `{"round":{"call":"first phase","seed":6,"epis`...), 0o644))

	j, err = openJournal(path, "sweep", "", identity(id))
	require.NoError(t, err)
	_, ok := j.round("first phase", 6)
	require.False(t, ok, "the torn round is not taken")
	require.NoError(t, j.record("first phase", 6, []*episodeRecord{{Variant: "full", Steps: 8}}))
	require.NoError(t, j.Close())
	j, err = openJournal(path, "sweep", "", identity(id))
	require.NoError(t, err)
	round, ok := j.round("first phase", 6)
	require.True(t, ok)
	require.Equal(t, 8, round[0].Steps)
	require.NoError(t, j.Close())

	lines := strings.SplitAfter(string(whole), "\n")
	require.NoError(t, os.WriteFile(path, []byte(lines[0]+"{\"round\": 3}\n"+lines[1]), 0o644))
	_, err = openJournal(path, "sweep", "", identity(id))
	require.ErrorContains(t, err, "closedloop: journal "+path+" line 2: json: cannot unmarshal number")

	// Files that are not journals, with or without a newline, are left as they are.
	for _, content := range []string{"shopping list\n", "shopping list", `{"journal":"another tool"}`} {
		other := filepath.Join(dir, "notes.txt")
		require.NoError(t, os.WriteFile(other, []byte(content), 0o644))
		_, err = openJournal(other, "sweep", "", identity(id))
		require.EqualError(t, err, "closedloop: "+other+" is not a closed-loop journal (its first line is not one's header)")
		text, err := os.ReadFile(other)
		require.NoError(t, err)
		require.Equal(t, content, string(text))
	}
	// A header torn by a crash before its newline is the start of a journal: written again.
	torn := filepath.Join(dir, "torn.journal")
	require.NoError(t, os.WriteFile(torn, []byte(`{"journal":"dysl clo`), 0o644))
	j, err = openJournal(torn, "sweep", "", identity(id))
	require.NoError(t, err)
	require.NoError(t, j.Close())
	text, err := os.ReadFile(torn)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(text), `{"journal":"dysl closed-loop sweep","version":1,`), string(text))

	j, err = openJournal("", "sweep", "", identity(id))
	require.NoError(t, err)
	require.Nil(t, j, "no path, no journal")
	require.NoError(t, j.decide("x", new(int), func() error { return nil }))
	require.NoError(t, j.Close())
}

func identity(id map[string]any) func() (map[string]any, error) {
	return func() (map[string]any, error) { return id, nil }
}

// Rounds computed on another execution provider or precision are other episodes: the suite's
// identity, which a journal must match to be resumed, says how the backends compute.
func TestSuiteIdentityNamesTheEngine(t *testing.T) {
	cpu, cuda := Suite{Engine: "provider=cpu"}, Suite{Engine: "provider=cuda"}
	require.NotEqual(t, suiteIdentity(cpu), suiteIdentity(cuda))
	require.Equal(t, suiteIdentity(cpu), suiteIdentity(Suite{Engine: "provider=cpu"}))
}

// Rounds played with another gripper convention are other episodes; the zero value is the default's.
func TestSuiteIdentityNamesTheGripperConvention(t *testing.T) {
	require.NotEqual(t, suiteIdentity(Suite{}), suiteIdentity(Suite{Gripper: gripper.Convention{Open: 1, Closed: -1}}))
	require.Equal(t, suiteIdentity(Suite{}), suiteIdentity(Suite{Gripper: gripper.Default()}))
}
