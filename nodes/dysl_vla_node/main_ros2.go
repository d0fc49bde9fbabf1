//go:build ros2

//go:generate go tool rclgo-gen generate -d rosgen --include-package-deps rcl_interfaces --include-package-deps lifecycle_msgs --include-package-deps rosgraph_msgs --cgo-flags-path ""

// Command dysl_vla_node is the DySL-VLA ROS 2 node: the node core (package nodecore) behind thin rclgo
// glue that moves serialized messages. Every message is encoded and decoded by package msgs; rclgo only
// sees bytes, except for the parameter services, whose typed bindings rclgo-gen generates into rosgen/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tiiuae/rclgo/pkg/rclgo"
	"github.com/tiiuae/rclgo/pkg/rclgo/types"

	rcl_interfaces_srv "dysl_vla/nodes/dysl_vla_node/rosgen/rcl_interfaces/srv"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
)

const nodeName = "dysl_vla_node"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, nodeName+":", err)
		os.Exit(1)
	}
}

func run() error {
	args, err := paramserver.ParseArgs(os.Args[1:], nodeName, "/")
	if err != nil {
		return err
	}
	rosArgs, _, err := rclgo.ParseArgs(os.Args[1:])
	if err != nil {
		return err
	}
	if err := rclgo.Init(rosArgs); err != nil {
		return err
	}
	defer rclgo.Uninit()
	// rcl applies -r __node:= and __ns:= itself (global arguments).
	node, err := rclgo.NewNode(nodeName, "")
	if err != nil {
		return err
	}
	defer node.Close()
	log := node.Logger()

	params, settings, err := nodecore.NewParamServer(args.FullyQualifiedName(), args.Overrides, nil)
	if err != nil {
		return err
	}
	if settings.ModelDir == "" {
		return errors.New("parameter model_dir is empty, expected the model bundle directory (-p model_dir:=/path)")
	}
	engine, err := policy.Open(settings.ModelDir, policy.ORTConfig{Provider: settings.ExecutionProvider,
		IntraOpThreads: settings.ORTThreads}, settings.Live.Skipping)
	if err != nil {
		return err
	}
	defer engine.Close()

	// The bridge is closed after the runner has stopped (defers run in reverse), so no chunk is
	// forwarded to a closed bridge.
	var forwarder nodecore.ChunkForwarder
	if settings.Mavlink.Enabled {
		fwd, err := startMavlink(settings.Mavlink, engine.Manifest.Action.GripperIndex)
		if err != nil {
			return err
		}
		defer fwd.Bridge.Close()
		forwarder = fwd
		log.Infof("forwarding action chunks over MAVLink to %s (system %d, component %d)",
			settings.Mavlink.Endpoint, settings.Mavlink.TargetSystem, settings.Mavlink.TargetComponent)
	}

	pub := func(topic, pkg, msg string, qos rclgo.QosProfile) (*rclgo.Publisher, error) {
		ts, err := rclgo.LoadDynamicMessageTypeSupport(pkg, msg)
		if err != nil {
			return nil, fmt.Errorf("type support %s/msg/%s: %w", pkg, msg, err)
		}
		return node.NewPublisher(topic, ts, &rclgo.PublisherOptions{Qos: qos})
	}
	reliable := rclgo.NewDefaultQosProfile() // keep last 10, reliable, volatile
	chunkPub, err := pub(settings.ActionChunkTopic, "dysl_vla", "ActionChunk", reliable)
	if err != nil {
		return err
	}
	statsPub, err := pub("~/skip_stats", "dysl_vla", "SkipStats", reliable)
	if err != nil {
		return err
	}
	diagQos := reliable
	diagQos.Depth = 1 // diagnostic_updater's publisher
	diagPub, err := pub("/diagnostics", "diagnostic_msgs", "DiagnosticArray", diagQos)
	if err != nil {
		return err
	}
	paramQos := reliable
	paramQos.Depth = 1000 // rmw_qos_profile_parameter_events / _parameters
	eventPub, err := pub("/parameter_events", "rcl_interfaces", "ParameterEvent", paramQos)
	if err != nil {
		return err
	}

	sink := &rosSink{chunk: chunkPub, stats: statsPub, diag: diagPub, log: log}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: params, Sink: sink, NodeName: args.NodeName,
		Forwarder: forwarder})
	if err != nil {
		return err
	}
	defer core.Close()

	// rclgo has no ROS clock: with use_sim_time the newest image stamp stands in for /clock.
	var latestStamp atomic.Int64
	now := time.Now
	if settings.UseSimTime {
		now = func() time.Time { return time.Unix(0, latestStamp.Load()) }
	}
	ticker := time.NewTicker(settings.DiagnosticsPeriod)
	defer ticker.Stop()
	runner := &nodecore.Runner{Core: core, Now: now, DiagnosticsTick: ticker.C}
	if err := runner.Initialize(); err != nil {
		return err
	}
	defer runner.Close()

	sub := func(topic, pkg, msg string, qos rclgo.QosProfile, take func([]byte)) error {
		ts, err := rclgo.LoadDynamicMessageTypeSupport(pkg, msg)
		if err != nil {
			return fmt.Errorf("type support %s/msg/%s: %w", pkg, msg, err)
		}
		_, err = node.NewSubscription(topic, ts, &rclgo.SubscriptionOptions{Qos: qos}, func(s *rclgo.Subscription) {
			raw, _, err := s.TakeSerializedMessage()
			if err != nil {
				core.ReportDecodeError(topic, err)
				return
			}
			take(raw)
		})
		return err
	}
	sensorData := rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 1,
		Reliability: rclgo.ReliabilityBestEffort, Durability: rclgo.DurabilityVolatile}
	if err := sub(settings.ImageTopic, "sensor_msgs", "Image", sensorData, func(raw []byte) {
		var img msgs.Image
		if err := msgs.Decode(raw, &img); err != nil {
			core.ReportDecodeError(settings.ImageTopic, err)
			return
		}
		latestStamp.Store(img.Header.Stamp.Nanos())
		runner.OfferFrame(img)
	}); err != nil {
		return err
	}
	latched := rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 1,
		Reliability: rclgo.ReliabilityReliable, Durability: rclgo.DurabilityTransientLocal}
	if err := sub(settings.InstructionTopic, "std_msgs", "String", latched, func(raw []byte) {
		var s msgs.String
		if err := msgs.Decode(raw, &s); err != nil {
			core.ReportDecodeError(settings.InstructionTopic, err)
			return
		}
		runner.SetInstruction(s.Data)
	}); err != nil {
		return err
	}

	if err := serveParameters(node, params, paramQos); err != nil {
		return err
	}
	events := params.Subscribe(64)
	defer params.Unsubscribe(events)
	go func() {
		for e := range events.C {
			publish(eventPub, &e, log)
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Infof("serving %s on %s, instruction on %s", settings.ModelDir, settings.ImageTopic, settings.InstructionTopic)
	if err := rclgo.Spin(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// serveParameters creates the six rcl_interfaces parameter services under the node's name. Requests
// arrive as generated Go types; rclgo.Serialize turns them into CDR for nodecore, and the CDR answer
// goes back through rclgo.Deserialize.
func serveParameters(node *rclgo.Node, params *paramserver.Server, qos rclgo.QosProfile) error {
	services := map[string]types.ServiceTypeSupport{
		"describe_parameters":       rcl_interfaces_srv.DescribeParametersTypeSupport,
		"get_parameter_types":       rcl_interfaces_srv.GetParameterTypesTypeSupport,
		"get_parameters":            rcl_interfaces_srv.GetParametersTypeSupport,
		"list_parameters":           rcl_interfaces_srv.ListParametersTypeSupport,
		"set_parameters":            rcl_interfaces_srv.SetParametersTypeSupport,
		"set_parameters_atomically": rcl_interfaces_srv.SetParametersAtomicallyTypeSupport,
	}
	log := node.Logger()
	for name, ts := range services {
		name, ts := name, ts
		handler := func(_ *rclgo.ServiceInfo, req types.Message, sender rclgo.ServiceResponseSender) {
			raw, err := rclgo.Serialize(req)
			if err == nil {
				raw, err = nodecore.ServeParameterRequest(params, name, raw)
			}
			var resp types.Message
			if err == nil {
				resp, err = rclgo.Deserialize(raw, ts.Response())
			}
			if err == nil {
				err = sender.SendResponse(resp)
			}
			if err != nil {
				log.Errorf("parameter service %s: %v", name, err)
			}
		}
		if _, err := node.NewService("~/"+name, ts, &rclgo.ServiceOptions{Qos: qos}, handler); err != nil {
			return fmt.Errorf("service ~/%s: %w", name, err)
		}
	}
	return nil
}

// rosSink publishes the core's outputs as serialized messages and logs its notices.
type rosSink struct {
	chunk, stats, diag *rclgo.Publisher
	log                *rclgo.Logger
}

func (s *rosSink) PublishActionChunk(c *msgs.ActionChunk)     { publish(s.chunk, c, s.log) }
func (s *rosSink) PublishSkipStats(st *msgs.SkipStats)        { publish(s.stats, st, s.log) }
func (s *rosSink) PublishDiagnostics(d *msgs.DiagnosticArray) { publish(s.diag, d, s.log) }
func (s *rosSink) Notice(e nodecore.Event) {
	switch e.(type) {
	case nodecore.EventInferenceFailed, nodecore.EventNonFiniteAction:
		s.log.Error(e.String())
	case nodecore.EventInstruction:
		s.log.Info(e.String())
	case nodecore.EventFrameSuperseded:
		s.log.Debug(e.String()) // routine under load; counted in the diagnostics
	default:
		s.log.Warn(e.String())
	}
}

func publish(p *rclgo.Publisher, m msgs.Message, log *rclgo.Logger) {
	raw, err := msgs.Encode(nil, m)
	if err == nil {
		err = p.PublishSerialized(raw)
	}
	if err != nil {
		log.Errorf("publish %s on %s: %v", m.TypeName(), p.TopicName, err)
	}
}
