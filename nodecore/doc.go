// Package nodecore is the DySL-VLA node without its edges: subscriptions in, publications out, the
// latest-frame and robot-state slots, the node's parameters and their validation, and diagnostics. The
// ROS 2 executable (nodes/dysl_vla_node, rclgo behind the ros2 build tag), `dysl replay` and the tests
// all drive the same Core; only what feeds it differs.
//
// The contract, in the order a caller meets it:
//
//	srv, settings, err := nodecore.LoadParams(paramsFile, "/dysl_vla_node", now) // or NewParamServer
//	engine := ... policy engine for settings.ModelDir ...
//	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: sink})
//	core.SetInstruction("pick up the cube")   // a new instruction: new episode (a repeat changes nothing)
//	core.OfferFrame(img)                      // latest-frame slot; a frame not yet served is dropped
//	core.OfferSerializedCompressedFrame(t, b) // image_transport compressed: its JPEG or PNG is decoded
//	                                          // by Step, so a superseded frame costs no decode
//	core.OfferState(stamp, names, positions)  // joint_states, for a bundle with a state block
//	core.Step(now)                            // serve the slot now: chunk + skip stats to the sink
//	core.Diagnostics(now)                     // once per diagnostic_updater.period
//
// The Core owns no goroutine and reads no clock; every time comes in as an argument. Replaying a bag
// therefore means: for each message in bag order, SetInstruction or OfferFrame then Step(bag time), and
// Diagnostics(bag time) whenever a period of bag time has passed. The same bag gives the same chunks,
// skip decisions and diagnostics, provided the engine's own timing clock (policy.Engine.Now) is also
// bag time; otherwise only the latency fields differ (and the decode times of compressed frames).
//
// Runner is the live wrapper: a worker goroutine that calls Step when a frame arrives and Diagnostics on
// a ticker, so a camera callback never waits for inference.
//
// Never act blind: no chunk before an instruction, none from a frame older than max_image_age (or with a
// zero stamp) when inference would start, none for a bundle that reads the robot's state without a
// state within state_max_age of the frame, and none holding NaN or Inf. A failed inference is reported
// (an Event to the Sink, ERROR in the diagnostics) and the next frame is served.
//
// Parameters follow rclcpp: the server checks types and descriptor ranges; the Core's on-set callback
// then refuses any combination skipping.Config.Validate refuses, with its reason, and nothing changes;
// an accepted change reaches the engine through policy.Engine.SetSkipping and applies at the next
// inference.
package nodecore
