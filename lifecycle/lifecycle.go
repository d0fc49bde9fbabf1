// Package lifecycle is the managed-node state machine of ROS 2 (lifecycle_msgs, rcl_lifecycle's
// default state machine), without ROS: the states, the transitions a state allows, and the callback
// each transition runs. It decides; the caller executes. The ROS 2 glue serves it through the
// ~/change_state, ~/get_state, ~/get_available_states and ~/get_available_transitions services and
// publishes its events on ~/transition_event.
//
// A bring-up sequences a hardware-facing node with it: configure (load the bundle, build the sessions,
// warm up), activate (subscribe and publish), deactivate, cleanup, shutdown.
package lifecycle

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"dysl_vla/msgs"
)

// State is a lifecycle_msgs/msg/State id; its String is the label rcl_lifecycle gives it.
type State = msgs.StateID

// The states, with lifecycle_msgs' ids.
const (
	Unknown         = msgs.StateUnknown
	Unconfigured    = msgs.StateUnconfigured
	Inactive        = msgs.StateInactive
	Active          = msgs.StateActive
	Finalized       = msgs.StateFinalized
	Configuring     = msgs.StateConfiguring
	CleaningUp      = msgs.StateCleaningUp
	ShuttingDown    = msgs.StateShuttingDown
	Activating      = msgs.StateActivating
	Deactivating    = msgs.StateDeactivating
	ErrorProcessing = msgs.StateErrorProcessing
)

// States lists every state the machine has, as ~/get_available_states answers: rcl_lifecycle's default
// machine, unknown (id 0) included, as rclcpp_lifecycle lists it, though no node is ever in it.
func States() []State {
	return []State{Unknown, Unconfigured, Inactive, Active, Finalized, Configuring, CleaningUp, ShuttingDown,
		Activating, Deactivating, ErrorProcessing}
}

// Transition is a lifecycle_msgs/msg/Transition: its id and label.
type Transition struct {
	ID    uint8
	Label string
}

// The transitions a client may request, with lifecycle_msgs' ids.
var (
	Configure            = Transition{1, "configure"}
	Cleanup              = Transition{2, "cleanup"}
	Activate             = Transition{3, "activate"}
	Deactivate           = Transition{4, "deactivate"}
	UnconfiguredShutdown = Transition{5, "shutdown"}
	InactiveShutdown     = Transition{6, "shutdown"}
	ActiveShutdown       = Transition{7, "shutdown"}
)

// Callback names the node's code a transition runs.
type Callback int

// The callbacks, as rclcpp's LifecycleNode names them.
const (
	OnConfigure Callback = iota
	OnCleanup
	OnActivate
	OnDeactivate
	OnShutdown
	OnError
)

func (c Callback) String() string {
	return [...]string{"on_configure", "on_cleanup", "on_activate", "on_deactivate", "on_shutdown", "on_error"}[c]
}

// Result is what a callback returned.
type Result int

// A callback succeeds, fails (the transition is refused and the node stays usable) or errors (the
// node goes through on_error).
const (
	Success Result = iota
	Failure
	Error
)

// request is a transition a client may ask for: from a primary state into a transitional one.
type request struct {
	t        Transition
	from, to State
}

var requests = []request{
	{Configure, Unconfigured, Configuring},
	{UnconfiguredShutdown, Unconfigured, ShuttingDown},
	{Cleanup, Inactive, CleaningUp},
	{Activate, Inactive, Activating},
	{InactiveShutdown, Inactive, ShuttingDown},
	{Deactivate, Active, Deactivating},
	{ActiveShutdown, Active, ShuttingDown},
}

// outcome is where a transitional state goes on each callback result, with the transition id
// rcl_lifecycle publishes for that step.
type outcome struct {
	callback Callback
	firstID  uint8    // the id of the success step; failure is firstID+1, error firstID+2
	goal     [3]State // by Result
}

var outcomes = map[State]outcome{
	Configuring:     {OnConfigure, 10, [3]State{Inactive, Unconfigured, ErrorProcessing}},
	CleaningUp:      {OnCleanup, 20, [3]State{Unconfigured, Inactive, ErrorProcessing}},
	Activating:      {OnActivate, 30, [3]State{Active, Inactive, ErrorProcessing}},
	Deactivating:    {OnDeactivate, 40, [3]State{Inactive, Active, ErrorProcessing}},
	ShuttingDown:    {OnShutdown, 50, [3]State{Finalized, Finalized, ErrorProcessing}},
	ErrorProcessing: {OnError, 60, [3]State{Unconfigured, Finalized, Finalized}},
}

// resultLabels are the labels of the callback steps, as rcl_lifecycle names them.
var resultLabels = [3]string{"transition_success", "transition_failure", "transition_error"}

// Description is a lifecycle_msgs/msg/TransitionDescription.
type Description struct {
	Transition  Transition
	Start, Goal State
}

// Event is a lifecycle_msgs/msg/TransitionEvent without its timestamp, which the edge adds.
type Event = Description

// Machine holds a node's lifecycle state. It is not safe for concurrent use; the glue serializes
// service calls.
type Machine struct {
	state State
}

// NewMachine starts in unconfigured, as a managed node does after creation.
func NewMachine() *Machine { return &Machine{state: Unconfigured} }

// State is the current state.
func (m *Machine) State() State { return m.state }

// Available lists the transitions the current state allows, as ~/get_available_transitions answers.
func (m *Machine) Available() []Description {
	var out []Description
	for _, r := range requests {
		if r.from == m.state {
			out = append(out, Description{Transition: r.t, Start: r.from, Goal: r.to})
		}
	}
	return out
}

// ErrUnavailable is returned for a transition the current state does not allow.
var ErrUnavailable = errors.New("lifecycle: transition not available")

// Change runs the transition named by label, or by id when label is empty (a non-empty label wins,
// as in rclcpp): it moves into the transitional state, runs the callback through run, moves on by its
// result (through on_error when it errors) and hands every step to emit. It reports whether the
// requested callback succeeded, which is what ~/change_state answers. A callback that panics counts
// as one that returned Error, as rclcpp counts a callback that throws: the machine goes through
// on_error instead of staying in the transitional state, and the error returned holds the panic and
// its stack.
func (m *Machine) Change(id uint8, label string, run func(Callback) Result, emit func(Event)) (bool, error) {
	var req *request
	for i := range requests {
		r := &requests[i]
		if r.from == m.state && ((label != "" && r.t.Label == label) || (label == "" && r.t.ID == id)) {
			req = r
			break
		}
	}
	if req == nil {
		name := label
		if name == "" {
			name = fmt.Sprintf("id %d", id)
		}
		var available []string
		for _, d := range m.Available() {
			available = append(available, fmt.Sprintf("%s (%d)", d.Transition.Label, d.Transition.ID))
		}
		return false, fmt.Errorf("%w: %s from state %s (available there: %s)", ErrUnavailable, name, m.state, strings.Join(available, ", "))
	}
	m.step(Event{Transition: req.t, Start: m.state, Goal: req.to}, emit)
	result, panicked := m.runStep(run, emit)
	if m.state == ErrorProcessing {
		_, onErrorPanicked := m.runStep(run, emit)
		panicked = errors.Join(panicked, onErrorPanicked)
	}
	return result == Success, panicked
}

// runStep runs the callback of the current transitional state and moves by its result.
func (m *Machine) runStep(run func(Callback) Result, emit func(Event)) (r Result, panicked error) {
	o := outcomes[m.state]
	r, panicked = runRecovering(run, o.callback)
	if r < Success || r > Error {
		r = Error
	}
	m.step(Event{Transition: Transition{o.firstID + uint8(r), resultLabels[r]}, Start: m.state, Goal: o.goal[r]}, emit)
	return r, panicked
}

func runRecovering(run func(Callback) Result, cb Callback) (r Result, panicked error) {
	defer func() {
		if v := recover(); v != nil {
			r, panicked = Error, fmt.Errorf("lifecycle: the %s callback panicked: %v\n%s", cb, v, debug.Stack())
		}
	}()
	return run(cb), nil
}

func (m *Machine) step(e Event, emit func(Event)) {
	m.state = e.Goal
	if emit != nil {
		emit(e)
	}
}
