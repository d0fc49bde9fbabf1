package lifecycle

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// trace runs a scenario: each line "transition -> callback results" and the events it produced, as
// "start --label(id)--> goal".
func TestScenarios(t *testing.T) {
	cases := []struct {
		name    string
		steps   []string // transition label, or "#id"
		results map[Callback][]Result
		want    string
		state   State
	}{
		{
			name:  "bring-up and back down",
			steps: []string{"configure", "activate", "deactivate", "cleanup", "shutdown"},
			want: `configure ok
unconfigured --configure(1)--> configuring
configuring --transition_success(10)--> inactive
activate ok
inactive --activate(3)--> activating
activating --transition_success(30)--> active
deactivate ok
active --deactivate(4)--> deactivating
deactivating --transition_success(40)--> inactive
cleanup ok
inactive --cleanup(2)--> cleaningup
cleaningup --transition_success(20)--> unconfigured
shutdown ok
unconfigured --shutdown(5)--> shuttingdown
shuttingdown --transition_success(50)--> finalized
`,
			state: Finalized,
		},
		{
			name:    "configure fails (bundle missing): back to unconfigured, then works",
			steps:   []string{"#1", "#1"},
			results: map[Callback][]Result{OnConfigure: {Failure, Success}},
			want: `#1 refused
unconfigured --configure(1)--> configuring
configuring --transition_failure(11)--> unconfigured
#1 ok
unconfigured --configure(1)--> configuring
configuring --transition_success(10)--> inactive
`,
			state: Inactive,
		},
		{
			name:    "activate errors: on_error recovers to unconfigured",
			steps:   []string{"configure", "activate"},
			results: map[Callback][]Result{OnActivate: {Error}},
			want: `configure ok
unconfigured --configure(1)--> configuring
configuring --transition_success(10)--> inactive
activate refused
inactive --activate(3)--> activating
activating --transition_error(32)--> errorprocessing
errorprocessing --transition_success(60)--> unconfigured
`,
			state: Unconfigured,
		},
		{
			name:    "on_error fails: finalized",
			steps:   []string{"configure"},
			results: map[Callback][]Result{OnConfigure: {Error}, OnError: {Failure}},
			want: `configure refused
unconfigured --configure(1)--> configuring
configuring --transition_error(12)--> errorprocessing
errorprocessing --transition_failure(61)--> finalized
`,
			state: Finalized,
		},
		{
			name:  "shutdown from active uses its own id",
			steps: []string{"configure", "activate", "#7"},
			want: `configure ok
unconfigured --configure(1)--> configuring
configuring --transition_success(10)--> inactive
activate ok
inactive --activate(3)--> activating
activating --transition_success(30)--> active
#7 ok
active --shutdown(7)--> shuttingdown
shuttingdown --transition_success(50)--> finalized
`,
			state: Finalized,
		},
		{
			name:  "unavailable transitions change nothing",
			steps: []string{"activate", "#4", "bogus", "configure", "configure"},
			want: `activate unavailable: lifecycle: transition not available: activate from state unconfigured (available there: configure (1), shutdown (5))
#4 unavailable: lifecycle: transition not available: id 4 from state unconfigured (available there: configure (1), shutdown (5))
bogus unavailable: lifecycle: transition not available: bogus from state unconfigured (available there: configure (1), shutdown (5))
configure ok
unconfigured --configure(1)--> configuring
configuring --transition_success(10)--> inactive
configure unavailable: lifecycle: transition not available: configure from state inactive (available there: cleanup (2), activate (3), shutdown (6))
`,
			state: Inactive,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine()
			var b strings.Builder
			run := func(c Callback) Result {
				rs := tc.results[c]
				if len(rs) == 0 {
					return Success
				}
				r := rs[0]
				tc.results[c] = rs[1:]
				return r
			}
			emit := func(e Event) {
				fmt.Fprintf(&b, "%s --%s(%d)--> %s\n", e.Start, e.Transition.Label, e.Transition.ID, e.Goal)
			}
			for _, s := range tc.steps {
				var id uint8
				label := s
				if strings.HasPrefix(s, "#") {
					fmt.Sscanf(s, "#%d", &id)
					label = ""
				}
				before := b.Len()
				ok, err := m.Change(id, label, run, emit)
				line := s + " ok\n"
				switch {
				case errors.Is(err, ErrUnavailable):
					// The node logs this error: with change_state's bare false, it is all an operator
					// reads of what was asked for and what the state allows.
					line = fmt.Sprintf("%s unavailable: %v\n", s, err)
				case err != nil:
					t.Fatal(err)
				case !ok:
					line = s + " refused\n"
				}
				out := b.String()
				b.Reset()
				b.WriteString(out[:before] + line + out[before:])
			}
			if b.String() != tc.want {
				t.Errorf("trace:\n%s\nwant:\n%s", b.String(), tc.want)
			}
			if m.State() != tc.state {
				t.Errorf("state %s, want %s", m.State(), tc.state)
			}
		})
	}
}

func TestAvailableTransitionsPerState(t *testing.T) {
	m := NewMachine()
	got := func() string {
		var parts []string
		for _, d := range m.Available() {
			parts = append(parts, fmt.Sprintf("%s(%d):%s->%s", d.Transition.Label, d.Transition.ID, d.Start, d.Goal))
		}
		return strings.Join(parts, " ")
	}
	ok := func(Callback) Result { return Success }
	if g := got(); g != "configure(1):unconfigured->configuring shutdown(5):unconfigured->shuttingdown" {
		t.Errorf("unconfigured: %s", g)
	}
	m.Change(Configure.ID, "", ok, nil)
	if g := got(); g != "cleanup(2):inactive->cleaningup activate(3):inactive->activating shutdown(6):inactive->shuttingdown" {
		t.Errorf("inactive: %s", g)
	}
	m.Change(0, "activate", ok, nil)
	if g := got(); g != "deactivate(4):active->deactivating shutdown(7):active->shuttingdown" {
		t.Errorf("active: %s", g)
	}
	m.Change(0, "shutdown", ok, nil)
	if g := got(); g != "" {
		t.Errorf("finalized allows %s", g)
	}
	if n := len(States()); n != 11 {
		t.Errorf("%d states, want the 11 of rcl_lifecycle's default machine, unknown included", n)
	}
}

// A callback that panics counts as one that returned Error, as rclcpp counts a callback that throws:
// the machine goes through on_error instead of staying in the transitional state for good, and the
// error says which callback panicked.
func TestPanickingCallbackIsAnError(t *testing.T) {
	m := NewMachine()
	var trace []string
	emit := func(e Event) { trace = append(trace, fmt.Sprintf("%s->%s", e.Start, e.Goal)) }
	ok, err := m.Change(Configure.ID, "", func(c Callback) Result {
		if c == OnConfigure {
			panic("bundle loader bug")
		}
		return Success // on_error recovers
	}, emit)
	if ok || err == nil || !strings.Contains(err.Error(), "lifecycle: the on_configure callback panicked: bundle loader bug") {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if got := strings.Join(trace, " "); got != "unconfigured->configuring configuring->errorprocessing errorprocessing->unconfigured" {
		t.Errorf("trace %s", got)
	}
	if ok, err := m.Change(Configure.ID, "", func(Callback) Result { return Success }, nil); !ok || err != nil {
		t.Errorf("the machine is usable again: ok %v, err %v", ok, err)
	}
}
