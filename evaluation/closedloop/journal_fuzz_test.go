package closedloop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzJournal feeds arbitrary bytes to --journal as a sweep's journal of one identity: opening it
// must end in a journal or an error naming the file (and the line, past the header), never a panic,
// and a journal that opens must hold only what its whole lines say, each round one a run could have
// played (an edited count, a line given twice, a line that is two things at once, is refused, not
// resumed from), with only a torn last line dropped from the file.
func FuzzJournal(f *testing.F) {
	id := map[string]any{"bundle": "abc", "seeds": []int64{1, 2}}
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.journal")
	j, err := openJournal(path, "sweep", "", identity(id))
	if err != nil {
		f.Fatal(err)
	}
	ep := Episode{Tasks: 2, Completed: 1, Steps: 40, Inferences: 9, LayersExecuted: 60, EngineTime: 1234567, Nearest: []float64{0.004, 0.1}, Gap: []float64{0.12, 0.3}}
	ep.Legs.Attempts[LegApproach], ep.Legs.Achieved[LegApproach] = 2, 1
	if err := j.record("first phase", 1, []*episodeRecord{recordOf("full", ep), nil}); err != nil {
		f.Fatal(err)
	}
	var picked struct{ Knob Metric }
	if err := j.decide("flexidepth tau", &picked, func() error { picked.Knob = 0.25; return nil }); err != nil {
		f.Fatal(err)
	}
	if err := j.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-20])
	lines := bytes.SplitAfter(seed, []byte("\n"))
	f.Add(bytes.Join([][]byte{lines[0], lines[1], lines[1]}, nil))
	f.Add(bytes.Join([][]byte{lines[0], bytes.ReplaceAll(lines[1], []byte(`"steps":40`), []byte(`"steps":-40`))}, nil))
	f.Add(bytes.Join([][]byte{lines[0], bytes.ReplaceAll(lines[1], []byte(`"completed":1`), []byte(`"completed":3`))}, nil))
	f.Add(bytes.Join([][]byte{lines[0], []byte(`{"decision":{"name":"a","value":1},"round":{"call":"x","seed":1,"episodes":[]}}` + "\n")}, nil))
	f.Add(bytes.Join([][]byte{lines[0], lines[2], lines[2]}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "run.journal")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := openJournal(path, "sweep", "", identity(id))
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("an error that names no file: %v", err)
			}
			return
		}
		defer j.Close()
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		whole := data[:bytes.LastIndexByte(data, '\n')+1]
		if len(whole) > 0 && !bytes.Equal(after, whole) {
			t.Fatalf("opening the journal changed its whole lines:\n%q\nto\n%q", whole, after)
		}
		for n, line := range bytes.Split(whole, []byte("\n")) {
			var l journalLine
			if n > 0 && json.Unmarshal(line, &l) == nil && l.Round != nil && l.Decision != nil {
				t.Fatalf("line %d, both a round and a decision, taken as one of them: %s", n+1, line)
			}
		}
		lines := bytes.Count(whole, []byte("\n"))
		if len(whole) > 0 && len(j.rounds)+len(j.decisions) != lines-1 {
			t.Fatalf("%d lines after the header, taken as %d rounds and %d decisions", lines-1, len(j.rounds), len(j.decisions))
		}
		for key, round := range j.rounds {
			for i, r := range round {
				if r == nil {
					continue
				}
				if err := checkRecord(r); err != nil {
					t.Fatalf("round of seed %d in %s, episode %d taken: %v", key.seed, key.call, i, err)
				}
			}
		}
	})
}

// checkRecord is what an episode a harness played always holds.
func checkRecord(r *episodeRecord) error {
	for _, n := range []int{r.Tasks, r.Completed, r.Steps, r.Inferences, r.LayersExecuted, r.VerificationRuns, int(r.EngineNs), int(r.BackboneNs)} {
		if n < 0 {
			return fmt.Errorf("a negative count: %+v", *r)
		}
	}
	if r.Variant == "" || r.Completed > r.Tasks || len(r.Nearest) != len(r.Gap) || len(r.Nearest) > r.Tasks {
		return fmt.Errorf("not an episode a harness plays: %+v", *r)
	}
	for leg := range numLegs {
		if r.Legs.Attempts[leg] < 0 || r.Legs.Achieved[leg] < 0 || r.Legs.Achieved[leg] > r.Legs.Attempts[leg] {
			return fmt.Errorf("leg %s: %d of %d", LegNames[leg], r.Legs.Achieved[leg], r.Legs.Attempts[leg])
		}
	}
	return nil
}
