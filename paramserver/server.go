package paramserver

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"dysl_vla/msgs"
)

// DepthRecursive is ListParameters' DEPTH_RECURSIVE: list at every depth.
const DepthRecursive uint64 = 0

// OnSetCallback validates a change before it is committed, like rclcpp's
// add_on_set_parameters_callback. It sees every parameter of one atomic set and rejects
// them all by returning Successful=false with a reason. It runs with the server's writer
// lock held: it may call Get, Snapshot and the other readers, but must not set, declare
// or undeclare (that deadlocks; rclcpp forbids it too).
type OnSetCallback func(params []Parameter) SetResult

// PostSetCallback observes a change after it is committed, like rclcpp's
// add_post_set_parameters_callback, with the same locking rule as OnSetCallback. It runs once per
// request: for a set_parameters (Set) once after the whole request, with every parameter it
// applied, where rclcpp runs it after each.
type PostSetCallback func(params []Parameter)

// Config configures a Server.
type Config struct {
	// Node is the node's fully qualified name, such as "/robot/vla_node". Events carry it.
	Node string
	// Overrides are start-up values (Args.Overrides) that Declare uses instead of the
	// default, as rclcpp applies --params-file and -p values.
	Overrides map[string]Value
	// Now stamps events. It defaults to time.Now; tests pass a fixed clock.
	Now func() time.Time
	// EventWait is how long one change request (a set_parameters of any size, a declaration) waits
	// in all for subscribers whose channel is full before it drops their events. 0 means
	// DefaultEventWait; a negative value never waits.
	EventWait time.Duration
}

// NotDeclaredError says a parameter a caller asked for was never declared.
// The ROS glue answers get/describe/get_types requests naming one with an empty response,
// as rclcpp's parameter service does.
type NotDeclaredError struct {
	Name string
}

func (e *NotDeclaredError) Error() string {
	return fmt.Sprintf("parameter '%s' has not been declared", e.Name)
}

// Server holds one node's parameters. It is safe for concurrent use: the ROS executor calls
// the service methods while the node reads values.
//
// Two locks: writeMu serialises every change from check to commit to event, so callbacks
// see a stable state and events leave in commit order; stateMu guards the map only for the
// instants it is read or written, so readers (and callbacks) never wait on a callback.
type Server struct {
	node      string
	overrides map[string]Value
	now       func() time.Time
	eventWait time.Duration

	writeMu   sync.Mutex
	onSet     []*onSetHandle
	postSet   []*postSetHandle
	stateMu   sync.RWMutex
	params    map[string]*entry
	subsMu    sync.Mutex
	listeners []*Subscription
}

type entry struct {
	value      Value
	descriptor Descriptor
}

type onSetHandle struct{ callback OnSetCallback }
type postSetHandle struct{ callback PostSetCallback }

// New returns a server with no parameters declared.
func New(cfg Config) (*Server, error) {
	if !strings.HasPrefix(cfg.Node, "/") {
		return nil, fmt.Errorf("paramserver: Config.Node %q must be a fully qualified node name starting with '/'", cfg.Node)
	}
	overrides := make(map[string]Value, len(cfg.Overrides))
	for name, v := range cfg.Overrides {
		if name == "" {
			return nil, errors.New("paramserver: Config.Overrides has an empty parameter name")
		}
		overrides[name] = cloneValue(v)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	eventWait := cfg.EventWait
	if eventWait == 0 {
		eventWait = DefaultEventWait
	}
	return &Server{node: cfg.Node, overrides: overrides, now: now, eventWait: eventWait, params: map[string]*entry{}}, nil
}

// UndeclaredOverrides lists, sorted, the start-up overrides no declared parameter has taken: after the
// node has declared everything, these are keys it does not know (a misspelt controler_threshold), which
// rclcpp ignores silently and a caller should warn about.
func (s *Server) UndeclaredOverrides() []string {
	var out []string
	for name := range s.overrides {
		if !s.has(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Node returns the fully qualified node name events carry.
func (s *Server) Node() string { return s.node }

// AddOnSetCallback registers a validation callback and returns a function that removes it.
// As in rclcpp, the callback registered last runs first, and the first rejection stops the
// chain.
func (s *Server) AddOnSetCallback(cb OnSetCallback) (remove func()) {
	return register(&s.writeMu, &s.onSet, &onSetHandle{callback: cb})
}

// AddPostSetCallback registers a callback run after every request that committed a change (and
// every declaration with a value), newest first, and returns a function that removes it.
func (s *Server) AddPostSetCallback(cb PostSetCallback) (remove func()) {
	return register(&s.writeMu, &s.postSet, &postSetHandle{callback: cb})
}

// register puts h first in *list, so the newest callback runs first, and returns the function
// that takes it out again; both hold mu (writeMu), so a change never sees the list half-edited.
// Callbacks sit behind handle pointers because funcs cannot be compared.
func register[H any](mu *sync.Mutex, list *[]*H, h *H) (remove func()) {
	mu.Lock()
	defer mu.Unlock()
	*list = append([]*H{h}, *list...)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		*list = slices.DeleteFunc(*list, func(x *H) bool { return x == h })
	}
}

// Declare declares a parameter and returns its effective value: the start-up override if
// Config.Overrides has one, else defaultValue.
//
// Without DynamicTyping the parameter's type is descriptor.Type, or defaultValue's type when
// descriptor.Type is NOT_SET; an override of another type is an error, as in rclcpp. A NOT_SET
// initial value declares the parameter without a value (and without an event). Otherwise the
// initial value passes the descriptor's ranges and the on-set callbacks, the post-set
// callbacks run, and subscribers get an Event listing it in NewParameters.
func (s *Server) Declare(name string, defaultValue Value, descriptor Descriptor) (Value, error) {
	if name == "" {
		return Value{}, errors.New("parameter name must not be empty")
	}
	if err := validateDescriptor(name, descriptor); err != nil {
		return Value{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	if s.has(name) {
		return Value{}, fmt.Errorf("parameter '%s' has already been declared", name)
	}
	descriptor = cloneDescriptor(descriptor)
	descriptor.Name = name
	if !descriptor.DynamicTyping {
		if descriptor.Type == msgs.ParameterNotSet {
			descriptor.Type = defaultValue.Type
		}
		if descriptor.Type == msgs.ParameterNotSet {
			return Value{}, fmt.Errorf("parameter '%s' has invalid type: cannot declare a statically typed parameter with an uninitialized value", name)
		}
	}
	initial := cloneValue(defaultValue)
	if override, ok := s.overrides[name]; ok {
		initial = cloneValue(override)
	}
	if initial.Type == msgs.ParameterNotSet {
		if descriptor.DynamicTyping {
			descriptor.Type = msgs.ParameterNotSet
		}
		s.store(name, &entry{descriptor: descriptor})
		return Value{}, nil
	}

	param := []Parameter{{Name: name, Value: initial}}
	if result := checkType(descriptor, name, initial); !result.Successful {
		hint := ""
		if descriptor.Type == msgs.ParameterDouble && initial.Type == msgs.ParameterInteger {
			// YAML reads 1 as an integer, and rclcpp refuses it for a double; the file's author meant 1.0.
			hint = fmt.Sprintf(" (write %d.0 for a double)", initial.IntegerValue)
		}
		return Value{}, fmt.Errorf("parameter '%s' has invalid type: %s%s", name, result.Reason, hint)
	}
	if result := checkRange(descriptor, name, initial); !result.Successful {
		// A start-up failure is read in a launch log: it says what was given, then the range and
		// rclcpp's words (a set request's reason keeps rclcpp's words first, for ros2 param set).
		return Value{}, fmt.Errorf("parameter '%s' could not be set to %s%s: %s", name, FormatValue(initial), describeRange(descriptor), result.Reason)
	}
	if result := s.callOnSet(param); !result.Successful {
		return Value{}, fmt.Errorf("parameter '%s' could not be set to %s: %s", name, FormatValue(initial), result.Reason)
	}
	descriptor.Type = initial.Type
	s.store(name, &entry{value: initial, descriptor: descriptor})
	s.callPostSet(param)
	s.publish(Event{NewParameters: cloneParameters(param)}, s.newDelivery())
	return cloneValue(initial), nil
}

// Undeclare removes a parameter, which rclcpp allows only for dynamically typed parameters
// that are not read-only. Subscribers get an Event listing it in DeletedParameters (rclcpp publishes
// none here; a monitor should not miss a parameter disappearing). No callbacks run.
func (s *Server) Undeclare(name string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.stateMu.RLock()
	e, ok := s.params[name]
	s.stateMu.RUnlock()
	switch {
	case !ok:
		return fmt.Errorf("cannot undeclare parameter '%s' which has not yet been declared", name)
	case e.descriptor.ReadOnly:
		return fmt.Errorf("cannot undeclare parameter '%s' because it is read-only", name)
	case !e.descriptor.DynamicTyping:
		return fmt.Errorf("parameter '%s' has invalid type: cannot undeclare a statically typed parameter", name)
	}
	s.stateMu.Lock()
	delete(s.params, name)
	s.stateMu.Unlock()
	s.publish(Event{DeletedParameters: []Parameter{{Name: name}}}, s.newDelivery())
	return nil
}

// Has reports whether the parameter is declared.
func (s *Server) Has(name string) bool { return s.has(name) }

// Get returns the values of the named parameters, NOT_SET for one declared without a value.
// Any undeclared name makes it fail with a *NotDeclaredError (get_parameters).
func (s *Server) Get(names ...string) ([]Value, error) {
	return lookupAll(s, names, func(e *entry) Value { return cloneValue(e.value) })
}

// GetTypes returns the current value types of the named parameters (get_parameter_types).
func (s *Server) GetTypes(names ...string) ([]msgs.ParameterType, error) {
	return lookupAll(s, names, func(e *entry) msgs.ParameterType { return e.value.Type })
}

// Describe returns the descriptors of the named parameters (describe_parameters).
func (s *Server) Describe(names ...string) ([]Descriptor, error) {
	return lookupAll(s, names, func(e *entry) Descriptor { return cloneDescriptor(e.descriptor) })
}

// lookupAll maps each named parameter's entry through read, in one read-locked instant, or
// fails with a *NotDeclaredError for the first undeclared name.
func lookupAll[T any](s *Server, names []string, read func(*entry) T) ([]T, error) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	out := make([]T, len(names))
	for i, name := range names {
		e, ok := s.params[name]
		if !ok {
			return nil, &NotDeclaredError{Name: name}
		}
		out[i] = read(e)
	}
	return out, nil
}

// List implements list_parameters with rclcpp's rules. Names are dotted; the prefix of
// "a.b.c" is "a.b". With no prefixes and DepthRecursive, every name is listed. With no
// prefixes and depth d, names with fewer than d dots. With prefixes, a name matches a prefix
// it equals, or one it extends by "."; then, unless depth is DepthRecursive, the part after
// the prefix, the separating dot included (rclcpp counts in name.substr(prefix.length())), must
// have fewer than depth dots: depth 1 lists a prefix's own name only, depth 2 its children. Names
// come sorted; Prefixes holds the distinct prefixes of the listed names, in the order first met.
func (s *Server) List(prefixes []string, depth uint64) ListResult {
	s.stateMu.RLock()
	names := make([]string, 0, len(s.params))
	for name := range s.params {
		names = append(names, name)
	}
	s.stateMu.RUnlock()
	slices.Sort(names)

	dotsBelowDepth := func(str string) bool { return uint64(strings.Count(str, ".")) < depth }
	matchesPrefix := func(name string) bool {
		for _, prefix := range prefixes {
			if name == prefix {
				return true
			}
			if strings.HasPrefix(name, prefix+".") {
				if depth == DepthRecursive || dotsBelowDepth(name[len(prefix):]) {
					return true
				}
			}
		}
		return false
	}

	recursive := len(prefixes) == 0 && depth == DepthRecursive
	result := ListResult{Names: []string{}, Prefixes: []string{}}
	for _, name := range names {
		if !recursive {
			all := len(prefixes) == 0 && dotsBelowDepth(name)
			if !all && !matchesPrefix(name) {
				continue
			}
		}
		result.Names = append(result.Names, name)
		if dot := strings.LastIndexByte(name, '.'); dot >= 0 && !slices.Contains(result.Prefixes, name[:dot]) {
			result.Prefixes = append(result.Prefixes, name[:dot])
		}
	}
	return result
}

// Set applies each parameter on its own, as set_parameters does, with one result per
// parameter in request order. A failure of one leaves the others applied. Each parameter is
// checked (descriptor and on-set callbacks) against the values the ones before it left, and each
// one applied sends its own Event, as in rclcpp. The post-set callbacks, though, run once, after
// the whole request, with every parameter it applied: a node that rebuilds its settings there
// (nodecore) then never runs with half of a request, as ros2 param load sends a whole file in one.
func (s *Server) Set(params ...Parameter) []SetResult {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d := s.newDelivery()
	results := make([]SetResult, len(params))
	var applied []Parameter
	for i, p := range params {
		var event Event
		results[i], event = s.commit([]Parameter{p})
		if results[i].Successful {
			applied = append(applied, p)
			s.publish(event, d)
		}
	}
	if len(applied) > 0 {
		s.callPostSet(cloneParameters(applied))
	}
	return results
}

// SetAtomically applies all parameters or none (set_parameters_atomically). The checks, in
// rclcpp's order: every name declared, none read-only; a NOT_SET value undeclares a
// dynamically typed parameter and is refused for a statically typed one; each value's type
// and range against its descriptor; then the on-set callbacks. On success the values are
// committed, the post-set callbacks run, and subscribers get one Event listing the
// parameters as ChangedParameters (or DeletedParameters). On failure nothing changes and no event is sent.
//
// An empty request succeeds and changes nothing. A request naming one parameter twice is
// refused; rclcpp would apply both in order, which no caller means.
func (s *Server) SetAtomically(params ...Parameter) SetResult {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if len(params) == 0 {
		return SetResult{Successful: true}
	}
	result, event := s.commit(params)
	if result.Successful {
		s.callPostSet(cloneParameters(params))
		s.publish(event, s.newDelivery())
	}
	return result
}

// commit checks params and, when they pass, commits them all and returns the event that says so;
// the caller holds writeMu and runs the post-set callbacks and publishes the event.
func (s *Server) commit(params []Parameter) (SetResult, Event) {
	params = cloneParameters(params)

	s.stateMu.RLock()
	current := make([]entry, len(params))
	seen := make(map[string]bool, len(params))
	var failure *SetResult
	for i, p := range params {
		e, ok := s.params[p.Name]
		switch {
		case p.Name == "":
			failure = &SetResult{Reason: "parameter name must not be empty"}
		case seen[p.Name]:
			failure = &SetResult{Reason: fmt.Sprintf("parameter '%s' appears more than once in one request", p.Name)}
		case !ok:
			failure = &SetResult{Reason: fmt.Sprintf("parameter '%s' cannot be set because it was not declared", p.Name)}
		case e.descriptor.ReadOnly:
			failure = &SetResult{Reason: fmt.Sprintf("parameter '%s' cannot be set because it is read-only", p.Name)}
		default:
			current[i] = *e
		}
		if failure != nil {
			break
		}
		seen[p.Name] = true
	}
	s.stateMu.RUnlock()
	if failure != nil {
		return *failure, Event{}
	}

	// A NOT_SET value on a parameter that has a value means "undeclare".
	undeclare := make([]bool, len(params))
	for i, p := range params {
		if p.Value.Type == msgs.ParameterNotSet && current[i].value.Type != msgs.ParameterNotSet {
			if !current[i].descriptor.DynamicTyping {
				return SetResult{Reason: "cannot undeclare a statically typed parameter"}, Event{}
			}
			undeclare[i] = true
		}
	}
	for i, p := range params {
		d := current[i].descriptor
		if result := checkType(d, p.Name, p.Value); !result.Successful {
			return result, Event{}
		}
		if result := checkRange(d, p.Name, p.Value); !result.Successful {
			// rclcpp's reason names no range, and ros2 param set prints only the reason: an operator
			// who typed 1.5 would have to ros2 param describe to learn what is allowed.
			result.Reason += " Range: " + rangeText(d) + "."
			return result, Event{}
		}
	}
	if result := s.callOnSet(params); !result.Successful {
		return result, Event{}
	}

	var event Event
	s.stateMu.Lock()
	for i, p := range params {
		if undeclare[i] {
			delete(s.params, p.Name)
			event.DeletedParameters = append(event.DeletedParameters, p)
			continue
		}
		e := current[i]
		e.value = p.Value
		e.descriptor.Type = p.Value.Type
		s.params[p.Name] = &e
		event.ChangedParameters = append(event.ChangedParameters, p)
	}
	s.stateMu.Unlock()

	return SetResult{Successful: true}, event
}

func (s *Server) has(name string) bool {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	_, ok := s.params[name]
	return ok
}

func (s *Server) store(name string, e *entry) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.params[name] = e
}

// callOnSet runs the validation callbacks; the caller holds writeMu.
func (s *Server) callOnSet(params []Parameter) SetResult {
	for _, h := range s.onSet {
		if result := h.callback(cloneParameters(params)); !result.Successful {
			return result
		}
	}
	return SetResult{Successful: true}
}

// callPostSet runs the post-set callbacks; the caller holds writeMu.
func (s *Server) callPostSet(params []Parameter) {
	for _, h := range s.postSet {
		h.callback(cloneParameters(params))
	}
}
