package main

import (
	"fmt"

	"dysl_vla/mavbridge"
	"dysl_vla/nodecore"
)

// startMavlink starts the MAVLink bridge the mavlink.* and gripper_open/gripper_closed parameters of
// settings describe and returns the Forwarder the node core sends every published chunk through; the
// caller closes fwd.Bridge after the node core has stopped. Under use_sim_time the chunks' stamps are
// sim time, not the bridge's clock: their gripper steps count from their arrival. steps and dims are
// the bundle's chunk and action dimension, gripperDim its Action.GripperIndex, whose -1 (no gripper) is
// mavbridge.NoGripper. It has no build tag so that it is built and tested without ROS.
func startMavlink(settings nodecore.Settings, steps, dims, gripperDim int) (*mavbridge.Forwarder, error) {
	s := settings.Mavlink
	// Checked here, at the edge, because the syntax is the bridge's: the node core does not know it.
	if _, err := mavbridge.ParseEndpoint(s.Endpoint); err != nil {
		return nil, fmt.Errorf("parameter %s: %w", nodecore.ParamMavlinkEndpoint, err)
	}
	// A bundle whose chunks the link cannot carry stops the node at start-up, instead of every chunk
	// being refused once it serves.
	if err := mavbridge.CheckShape(steps, dims); err != nil {
		return nil, fmt.Errorf("%s: the bundle's chunks cannot go over MAVLink: %w", nodecore.ParamMavlinkEnabled, err)
	}
	b := &mavbridge.Bridge{
		Endpoint:        s.Endpoint,
		LinkTimeout:     s.LinkTimeout,
		TargetSystem:    uint8(s.TargetSystem), // 1..255, the parameters' declared range
		TargetComponent: uint8(s.TargetComponent),
		MaxChannels:     s.MaxChannels,

		GripperProgressTimeout: s.GripperProgressTimeout,
		MaxChunkWait:           s.MaxChunkWait,
		// gripper_open and gripper_closed, the convention the node core's gripper_min_hold reads the
		// column by too; finite and different: the parameters' declared range and nodecore's check.
		GripperOpenValue:   settings.Gripper.Open,
		GripperClosedValue: settings.Gripper.Closed,
		StampsOffClock:     settings.UseSimTime,
	}
	if err := b.Initialize(); err != nil {
		return nil, fmt.Errorf("MAVLink bridge (%s): %w", nodecore.ParamMavlinkEndpoint, err)
	}
	return &mavbridge.Forwarder{Bridge: b, GripperDim: gripperDim}, nil
}
