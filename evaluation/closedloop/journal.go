package closedloop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"dysl_vla/policy/bundle"
)

// A Journal keeps what a closed-loop run has played, as it plays it, so that the run, stopped part
// way (Ctrl-C, a crash, a power cut) and started again with the same journal and the same options,
// plays only what is left. A sweep takes hours; without it, a stop loses them.
//
// The file is JSON lines. The first names the run's kind and identity: the digests of the bundles
// and weights, the seeds, and every option that shapes an episode or a row. Then comes one line per
// round (one seed played by every variant of one call of the suite: a phase, or one run of a
// threshold search) and one per decision taken on what the run saw (a threshold matched on the
// frames served to dysl). Each line is synced as it is written; a line torn by a crash is dropped
// when the journal is opened again. A journal of other options is refused, naming what differs.
//
// Rounds taken from the journal keep the times measured when they were played, so a resumed run's
// speedups mix two processes' timings (each round's variants were still timed side by side).
type Journal struct {
	path string
	// machine is what played the rounds already in the journal (its header's), this run's machine
	// what plays the rest: another processor can play the same episode otherwise (EvaluateConfig.Machine).
	machine, thisMachine string

	file      *os.File
	rounds    map[roundKey][]*episodeRecord
	decisions map[string]json.RawMessage
	reused    int
}

// journalVersion changes when a line's meaning does; an older journal is refused.
const journalVersion = 1

type journalHeader struct {
	Journal  string         `json:"journal"`
	Version  int            `json:"version"`
	Identity map[string]any `json:"identity"`
	// Machine is what played the journal's first rounds; not part of the identity, as a run resumed
	// elsewhere is still the same run (its report says where each part was played).
	Machine string `json:"machine,omitempty"`
}

type journalLine struct {
	Round    *journalRound    `json:"round,omitempty"`
	Decision *journalDecision `json:"decision,omitempty"`
}

type journalRound struct {
	Call string `json:"call"`
	Seed int64  `json:"seed"`
	// Episodes are in the call's variant order, null for a variant that cannot run.
	Episodes []*episodeRecord `json:"episodes"`
}

type journalDecision struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

type roundKey struct {
	call string
	seed int64
}

// episodeRecord is what a Row counts of an Episode.
type episodeRecord struct {
	Variant          string   `json:"variant"`
	Tasks            int      `json:"tasks"`
	Completed        int      `json:"completed"`
	Steps            int      `json:"steps"`
	Inferences       int      `json:"inferences"`
	LayersExecuted   int      `json:"layers_executed"`
	VerificationRuns int      `json:"verification_runs"`
	EngineNs         int64    `json:"engine_ns"`
	BackboneNs       int64    `json:"backbone_ns"`
	Legs             Legs     `json:"legs"`
	Nearest          []Metric `json:"nearest"`
	Gap              []Metric `json:"gap"`
}

func recordOf(variant string, ep Episode) *episodeRecord {
	r := &episodeRecord{Variant: variant, Tasks: ep.Tasks, Completed: ep.Completed, Steps: ep.Steps, Inferences: ep.Inferences,
		LayersExecuted: ep.LayersExecuted, VerificationRuns: ep.VerificationRuns, EngineNs: int64(ep.EngineTime),
		BackboneNs: int64(ep.BackboneTime), Legs: ep.Legs}
	for _, v := range ep.Nearest {
		r.Nearest = append(r.Nearest, Metric(v))
	}
	for _, v := range ep.Gap {
		r.Gap = append(r.Gap, Metric(v))
	}
	return r
}

func (r *episodeRecord) episode() Episode {
	ep := Episode{Tasks: r.Tasks, Completed: r.Completed, Steps: r.Steps, Inferences: r.Inferences, LayersExecuted: r.LayersExecuted,
		VerificationRuns: r.VerificationRuns, EngineTime: time.Duration(r.EngineNs), BackboneTime: time.Duration(r.BackboneNs), Legs: r.Legs}
	for _, v := range r.Nearest {
		ep.Nearest = append(ep.Nearest, float64(v))
	}
	for _, v := range r.Gap {
		ep.Gap = append(ep.Gap, float64(v))
	}
	return ep
}

// openJournal opens the journal at path for a run of this kind and identity, played on machine,
// creating it when it does not exist; no journal (nil) when path is empty, and then identity is not
// asked. It is locked against a second run.
func openJournal(path, kind, machine string, identity func() (map[string]any, error)) (*Journal, error) {
	if path == "" {
		return nil, nil
	}
	whole, err := identity()
	if err != nil {
		return nil, err
	}
	id, err := normalized(whole)
	if err != nil {
		return nil, fmt.Errorf("closedloop: journal %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("closedloop: journal: %w", err)
	}
	j := &Journal{path: path, thisMachine: machine, file: f, rounds: map[roundKey][]*episodeRecord{}, decisions: map[string]json.RawMessage{}}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("closedloop: journal %s is in use by another run (%w)", path, err)
		}
		// A file system without locks (some network mounts) cannot keep two runs apart.
		return nil, fmt.Errorf("closedloop: journal %s cannot be locked against a second run: %w (keep it on a local disk)", path, err)
	}
	if err := j.load("dysl closed-loop "+kind, id); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// load reads the journal's lines, checks its header against want and id, and leaves the file
// ready for appending. An empty file gets the header.
func (j *Journal) load(want string, id map[string]any) error {
	r := bufio.NewReader(j.file)
	// A file that does not begin as a journal is refused before it is read whole or truncated: a
	// --journal naming the wrong file (weights, a report) must leave it as it is.
	head, _ := r.Peek(len(headerStart))
	if string(head) != headerStart[:len(head)] {
		return notAJournal(j.path)
	}
	var whole int64 // bytes of whole lines
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline was torn by a crash: dropped below
		}
		if err != nil {
			return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
		}
		if n == 1 {
			if j.machine, err = checkHeader(j.path, line, want, id); err != nil {
				return err
			}
		} else if err := j.read(line); err != nil {
			return fmt.Errorf("closedloop: journal %s line %d: %w (remove the journal to start afresh)", j.path, n, err)
		}
		whole += int64(len(line))
	}
	if err := j.file.Truncate(whole); err != nil {
		return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
	}
	if _, err := j.file.Seek(whole, io.SeekStart); err != nil {
		return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
	}
	if whole > 0 {
		return nil
	}
	j.machine = j.thisMachine
	if err := j.append(journalHeader{Journal: want, Version: journalVersion, Identity: id, Machine: j.machine}); err != nil {
		return err
	}
	return syncDir(filepath.Dir(j.path)) // the new file's name survives a power cut too
}

// headerStart is how every journal's first line begins (journalHeader's first field).
const headerStart = `{"journal":"dysl closed-loop `

func notAJournal(path string) error {
	return fmt.Errorf("closedloop: %s is not a closed-loop journal (its first line is not one's header)", path)
}

// checkHeader checks a journal's first line against want and id, and returns the machine it names.
func checkHeader(path string, line []byte, want string, id map[string]any) (string, error) {
	var h journalHeader
	if err := json.Unmarshal(line, &h); err != nil || !strings.HasPrefix(h.Journal, "dysl closed-loop ") {
		return "", notAJournal(path)
	}
	if h.Journal != want {
		command := func(header string) string {
			return map[string]string{"sweep": "dysl sweep", "evaluation": "dysl evaluate --closed-loop"}[strings.TrimPrefix(header, "dysl closed-loop ")]
		}
		return "", fmt.Errorf("closedloop: journal %s was written by %s, not %s: name another journal", path, command(h.Journal), command(want))
	}
	if h.Version != journalVersion {
		return "", fmt.Errorf("closedloop: journal %s has version %d, this dysl writes %d: remove it to start afresh", path, h.Version, journalVersion)
	}
	var differ []string
	for _, k := range slices.Sorted(maps.Keys(mergedKeys(h.Identity, id))) {
		if !reflect.DeepEqual(h.Identity[k], id[k]) {
			differ = append(differ, k)
		}
	}
	if len(differ) > 0 {
		return "", fmt.Errorf("closedloop: journal %s was written with other options (it differs in %s): remove it, or name another journal, to start afresh",
			path, strings.Join(differ, ", "))
	}
	return h.Machine, nil
}

func mergedKeys(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func (j *Journal) read(line []byte) error {
	var l journalLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return err
	}
	// This dysl writes each round and each decision once, one to a line, from episodes a harness
	// played: anything else is an edited or spliced journal, and resuming from it would report rounds
	// never played as they read.
	switch {
	case l.Round != nil && l.Decision != nil:
		return errors.New("both a round and a decision, expected one")
	case l.Round != nil:
		key := roundKey{l.Round.Call, l.Round.Seed}
		if _, twice := j.rounds[key]; twice {
			return fmt.Errorf("the round of seed %d in %q again, expected each round once", key.seed, key.call)
		}
		for i, r := range l.Round.Episodes {
			if err := r.check(); err != nil {
				return fmt.Errorf("round of seed %d in %q, episode %d: %w", key.seed, key.call, i, err)
			}
		}
		j.rounds[key] = l.Round.Episodes
	case l.Decision != nil:
		if _, twice := j.decisions[l.Decision.Name]; twice {
			return fmt.Errorf("decision %q again, expected each decision once", l.Decision.Name)
		}
		j.decisions[l.Decision.Name] = l.Decision.Value
	default:
		return fmt.Errorf("neither a round nor a decision")
	}
	return nil
}

// check refuses a record no harness plays: a negative count, more tasks completed than given, a
// leg achieved more often than attempted, approach figures for more tasks than the episode had. A
// nil record (a variant that cannot run) passes.
func (r *episodeRecord) check() error {
	if r == nil {
		return nil
	}
	if r.Variant == "" {
		return errors.New("no variant named, expected the variant's name")
	}
	for _, c := range []struct {
		name  string
		value int64
	}{{"tasks", int64(r.Tasks)}, {"completed", int64(r.Completed)}, {"steps", int64(r.Steps)}, {"inferences", int64(r.Inferences)},
		{"layers_executed", int64(r.LayersExecuted)}, {"verification_runs", int64(r.VerificationRuns)}, {"engine_ns", r.EngineNs}, {"backbone_ns", r.BackboneNs}} {
		if c.value < 0 {
			return fmt.Errorf("%s is %d, expected >= 0", c.name, c.value)
		}
	}
	if r.Completed > r.Tasks {
		return fmt.Errorf("completed is %d of %d tasks, expected at most the tasks", r.Completed, r.Tasks)
	}
	if len(r.Nearest) != len(r.Gap) || len(r.Nearest) > r.Tasks {
		return fmt.Errorf("nearest and gap have %d and %d values, expected one each per task played (at most %d)", len(r.Nearest), len(r.Gap), r.Tasks)
	}
	for leg := range numLegs {
		if a, n := r.Legs.Achieved[leg], r.Legs.Attempts[leg]; a < 0 || n < 0 || a > n {
			return fmt.Errorf("legs: %s achieved %d times in %d attempts, expected 0 <= achieved <= attempts", LegNames[leg], a, n)
		}
	}
	return nil
}

// normalized is identity as it reads back from JSON, so that it compares with a header's.
func normalized(identity map[string]any) (map[string]any, error) {
	b, err := json.Marshal(identity)
	if err != nil {
		return nil, err
	}
	var id map[string]any
	return id, json.Unmarshal(b, &id)
}

// append writes one line and syncs it.
func (j *Journal) append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
	}
	if _, err := j.file.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
	}
	if err := j.file.Sync(); err != nil {
		return fmt.Errorf("closedloop: journal %s: %w", j.path, err)
	}
	return nil
}

// round is the recorded round of seed in call, when there is one.
func (j *Journal) round(call string, seed int64) ([]*episodeRecord, bool) {
	if j == nil {
		return nil, false
	}
	r, ok := j.rounds[roundKey{call, seed}]
	if ok {
		j.reused++
	}
	return r, ok
}

// record writes a round played.
func (j *Journal) record(call string, seed int64, episodes []*episodeRecord) error {
	if j == nil {
		return nil
	}
	j.rounds[roundKey{call, seed}] = episodes
	return j.append(journalLine{Round: &journalRound{Call: call, Seed: seed, Episodes: episodes}})
}

// decide fills v with the decision recorded under name, or has compute fill it and records it.
func (j *Journal) decide(name string, v any, compute func() error) error {
	if j == nil {
		return compute()
	}
	if raw, ok := j.decisions[name]; ok {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("closedloop: journal %s: decision %q: %w", j.path, name, err)
		}
		return nil
	}
	if err := compute(); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("closedloop: journal %s: decision %q: %w", j.path, name, err)
	}
	j.decisions[name] = raw
	return j.append(journalLine{Decision: &journalDecision{Name: name, Value: raw}})
}

// Reused counts the rounds taken from the journal instead of played.
func (j *Journal) Reused() int {
	if j == nil {
		return 0
	}
	return j.reused
}

// resumedNote is the report's note on the rounds a resumed run took from its journal, or "".
func (j *Journal) resumedNote() string {
	if j.Reused() == 0 {
		return ""
	}
	note := fmt.Sprintf("resumed from the journal %s: %d rounds (one seed, every variant of a phase or a search run) were taken from an earlier run of the same options, not played again; their times were measured then, each round's variants side by side", j.path, j.reused)
	if j.machine != j.thisMachine && j.machine != "" && j.thisMachine != "" {
		note += fmt.Sprintf(". They were played on %s, the rest on %s: another processor or runtime sums floats in another order, and a closed loop can carry the difference into another outcome, so the figures mix two machines", j.machine, j.thisMachine)
	}
	return note
}

// Close releases the journal; what it holds stays for the next run.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	return j.file.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bundleDigest is what a run's identity records of a bundle: its digest (bundle.Digest), "" for none.
func bundleDigest(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	digest, err := bundle.Digest(dir)
	if err != nil {
		return "", fmt.Errorf("closedloop: %w", err)
	}
	return digest, nil
}

// weightsDigest is what a run's identity records of a weights file: its SHA-256, "" for none. A
// file that cannot be read is recorded as such: early exit's row then says why it did not run.
func weightsDigest(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// suiteIdentity is what of the suite shapes an episode, and the program that plays it: the commit
// it was built from, when the build recorded one (go build in a git checkout), so that rows of two
// versions of the code are not mixed in one report.
func suiteIdentity(s Suite) map[string]any {
	latency := ""
	if s.Latency != nil {
		latency = s.Latency.String()
	}
	convention := s.Gripper.OrDefault()
	return map[string]any{"scene": s.Scene, "camera_hz": s.CameraHz, "latency": latency, "expert_dims": s.ExpertDims,
		"gripper_lead": s.GripperLead, "gripper_min_hold": s.GripperMinHold.String(), "gripper_open": convention.Open, "gripper_closed": convention.Closed,
		"engine": s.Engine, "program": programRevision()}
}

// programRevision is the VCS revision this program was built from, "+modified" when the tree had
// changes, or "" when the build recorded none.
func programRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision != "" && modified == "true" {
		revision += "+modified"
	}
	return revision
}
