//go:build ros2

package main

import (
	"fmt"

	"github.com/tiiuae/rclgo/pkg/rclgo"
	"github.com/tiiuae/rclgo/pkg/rclgo/types"

	lifecycle_msgs_msg "dysl_vla/nodes/dysl_vla_node/rosgen/lifecycle_msgs/msg"
	lifecycle_msgs_srv "dysl_vla/nodes/dysl_vla_node/rosgen/lifecycle_msgs/srv"

	"dysl_vla/lifecycle"
)

// serveLifecycle creates the managed node's services and ~/transition_event, as rclcpp's
// LifecycleNode does. package lifecycle decides every step; the callbacks here execute them.
func (n *node) serveLifecycle() error {
	events, err := lifecycle_msgs_msg.NewTransitionEventPublisher(n.rcl, "~/transition_event",
		&rclgo.PublisherOptions{Qos: reliable})
	if err != nil {
		return fmt.Errorf("publisher ~/transition_event: %w", err)
	}
	state := n.machine.State().String()
	n.lifecycleState.Store(&state)
	emit := func(e lifecycle.Event) {
		goal := e.Goal.String()
		n.lifecycleState.Store(&goal)
		msg := lifecycle_msgs_msg.TransitionEvent{Timestamp: uint64(n.now().UnixNano()),
			Transition: rosTransition(e.Transition), StartState: rosState(e.Start), GoalState: rosState(e.Goal)}
		if err := events.Publish(&msg); err != nil {
			n.log.Errorf("publish ~/transition_event: %v", err)
		}
		n.log.Infof("lifecycle: %s -> %s (%s)", e.Start, e.Goal, e.Transition.Label)
	}

	services := []struct {
		name    string
		ts      types.ServiceTypeSupport
		respond func(req types.Message) types.Message
	}{
		{"change_state", lifecycle_msgs_srv.ChangeStateTypeSupport, func(req types.Message) types.Message {
			t := req.(*lifecycle_msgs_srv.ChangeState_Request).Transition
			ok, err := n.machine.Change(t.Id, t.Label, n.runTransition, emit)
			if err != nil {
				// At ERROR, as rclcpp logs a transition it cannot start or a callback that failed.
				n.log.Errorf("%v", err)
			}
			return &lifecycle_msgs_srv.ChangeState_Response{Success: ok}
		}},
		{"get_state", lifecycle_msgs_srv.GetStateTypeSupport, func(types.Message) types.Message {
			return &lifecycle_msgs_srv.GetState_Response{CurrentState: rosState(n.machine.State())}
		}},
		{"get_available_states", lifecycle_msgs_srv.GetAvailableStatesTypeSupport, func(types.Message) types.Message {
			resp := &lifecycle_msgs_srv.GetAvailableStates_Response{}
			for _, s := range lifecycle.States() {
				resp.AvailableStates = append(resp.AvailableStates, rosState(s))
			}
			return resp
		}},
		{"get_available_transitions", lifecycle_msgs_srv.GetAvailableTransitionsTypeSupport, func(types.Message) types.Message {
			resp := &lifecycle_msgs_srv.GetAvailableTransitions_Response{}
			for _, d := range n.machine.Available() {
				resp.AvailableTransitions = append(resp.AvailableTransitions, lifecycle_msgs_msg.TransitionDescription{
					Transition: rosTransition(d.Transition), StartState: rosState(d.Start), GoalState: rosState(d.Goal)})
			}
			return resp
		}},
	}
	for _, s := range services {
		handler := func(_ *rclgo.ServiceInfo, req types.Message, sender rclgo.ServiceResponseSender) {
			if err := sender.SendResponse(s.respond(req)); err != nil {
				n.log.Errorf("lifecycle service %s: %v", s.name, err)
			}
		}
		if _, err := n.rcl.NewService("~/"+s.name, s.ts, &rclgo.ServiceOptions{Qos: reliable}, handler); err != nil {
			return fmt.Errorf("service ~/%s: %w", s.name, err)
		}
	}
	return nil
}

// runTransition executes the node's side of a lifecycle step.
func (n *node) runTransition(c lifecycle.Callback) lifecycle.Result {
	switch c {
	case lifecycle.OnConfigure:
		if err := n.configure(); err != nil {
			n.log.Errorf("configure failed, still unconfigured: %v", err)
			return lifecycle.Failure
		}
	case lifecycle.OnActivate:
		n.activate()
	case lifecycle.OnDeactivate:
		n.deactivate()
	case lifecycle.OnCleanup, lifecycle.OnShutdown, lifecycle.OnError:
		n.cleanup()
	}
	return lifecycle.Success
}
