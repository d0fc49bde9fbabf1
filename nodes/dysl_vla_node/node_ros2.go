//go:build ros2

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiiuae/rclgo/pkg/rclgo"
	"github.com/tiiuae/rclgo/pkg/rclgo/types"

	lifecycle_msgs_msg "dysl_vla/nodes/dysl_vla_node/rosgen/lifecycle_msgs/msg"
	rcl_interfaces_srv "dysl_vla/nodes/dysl_vla_node/rosgen/rcl_interfaces/srv"

	"dysl_vla/lifecycle"
	"dysl_vla/mavbridge"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
)

// node is the ROS 2 edge of one dysl_vla_node. Its endpoints (publishers, subscriptions, the parameter
// services, /clock) exist from start-up, as rclgo's spin only waits on what exists when it starts; the
// policy behind them comes and goes with configure/cleanup, and frames reach it only while active.
// Every callback here runs on the spin goroutine.
type node struct {
	rcl      *rclgo.Node
	log      *rclgo.Logger
	params   *paramserver.Server
	settings nodecore.Settings
	nodeName string
	clock    *nodecore.SimClock // nil without use_sim_time
	machine  *lifecycle.Machine // nil for the plain node
	// lifecycleState is the managed node's state as its transitions leave it, for the diagnostics
	// published while it serves no frames (read off the executor's goroutine).
	lifecycleState atomic.Pointer[string]

	sink     *rosSink
	events   *paramserver.Subscription
	eventPub *rclgo.Publisher
	eventsWG sync.WaitGroup
	// eventsEnd is closed by teardown: a node stopping (a start-up that failed) does not wait for
	// /parameter_events to find a subscriber.
	eventsEnd chan struct{}

	// configured
	engine *policy.Engine
	fwd    *mavbridge.Forwarder
	core   *nodecore.Core
	// active
	runner atomic.Pointer[nodecore.Runner]
	ticker *time.Ticker
	// wallTicks, closed at deactivate, stops the goroutine that passes wall ticks to the sim clock.
	wallTicks chan struct{}

	// instruction is the newest instruction message, kept while inactive: it arrives once (transient
	// local) and must not be lost before activation.
	instruction atomic.Pointer[string]
	// stateSubscribed: joint_states was subscribed at start-up, because the bundle's manifest then had
	// a state block.
	stateSubscribed bool
}

var (
	reliable   = rclgo.NewDefaultQosProfile() // keep last 10, reliable, volatile
	sensorData = rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 1,
		Reliability: rclgo.ReliabilityBestEffort, Durability: rclgo.DurabilityVolatile}
	latched = rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 1,
		Reliability: rclgo.ReliabilityReliable, Durability: rclgo.DurabilityTransientLocal}
	// jointStates is best effort so that reliable and best-effort publishers both match, with room for
	// an arm's and a gripper's messages published together.
	jointStates = rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 10,
		Reliability: rclgo.ReliabilityBestEffort, Durability: rclgo.DurabilityVolatile}
)

// paramQos is rmw_qos_profile_parameters / _parameter_events: reliable, keep last 1000.
func paramQos() rclgo.QosProfile { q := reliable; q.Depth = 1000; return q }

func (n *node) createEndpoints() error {
	pub := func(topic, pkg, msg string, qos rclgo.QosProfile) (*rclgo.Publisher, error) {
		ts, err := rclgo.LoadDynamicMessageTypeSupport(pkg, msg)
		if err != nil {
			return nil, fmt.Errorf("type support %s/msg/%s: %w", pkg, msg, err)
		}
		return n.rcl.NewPublisher(topic, ts, &rclgo.PublisherOptions{Qos: qos})
	}
	chunkPub, err := pub(n.settings.ActionChunkTopic, "dysl_vla", "ActionChunk", reliable)
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
	if n.eventPub, err = pub("/parameter_events", "rcl_interfaces", "ParameterEvent", paramQos()); err != nil {
		return err
	}
	n.sink = &rosSink{chunk: chunkPub, stats: statsPub, diag: diagPub, log: n.log}

	// image_transport compressed: <image_topic>/compressed, as image_transport's subscribers name it.
	imageTopic, imageType := n.settings.ImageInput()
	if err := n.subscribe(imageTopic, "sensor_msgs", strings.TrimPrefix(imageType, "sensor_msgs/msg/"), sensorData, n.onImage); err != nil {
		return err
	}
	if err := n.subscribe(n.settings.InstructionTopic, "std_msgs", "String", latched, n.onInstruction); err != nil {
		return err
	}
	// Endpoints exist from start-up, before configure loads the bundle, so the manifest alone says
	// whether the model reads the robot's state; an unreadable one fails at configure, with its reason.
	if m, err := bundle.ReadManifest(n.settings.ModelDir); err == nil && m.State != nil {
		if err := n.subscribe(nodecore.StateTopic, "sensor_msgs", "JointState", jointStates, n.onState); err != nil {
			return err
		}
		n.stateSubscribed = true
	}
	if err := n.serveClock(); err != nil {
		return err
	}
	if err := n.serveParameters(); err != nil {
		return err
	}
	// The declarations were made before this publisher existed. Room for as many events as the
	// publisher's history (keep last 1000), so that a set request made while the first event waits
	// for a subscriber below does not have to wait for this goroutine.
	n.events = n.params.SubscribeWithDeclared(int(paramQos().Depth))
	n.eventsEnd = make(chan struct{})
	n.eventsWG.Add(1)
	go func() {
		defer n.eventsWG.Done()
		// The first event, the declarations, goes out once a subscriber has matched (5 s at most):
		// /parameter_events is volatile, and what a new publisher sends before discovery completes is
		// lost even to a recorder that was there first. Discovery can take seconds on a loaded 2-core
		// machine; with nobody listening, the wait only delays the events queued behind it.
		awaitSubscriber(n.eventPub, 5*time.Second, n.eventsEnd)
		var dropped uint64
		for e := range n.events.C {
			publish(n.eventPub, &e, n.log)
			// A drop happens only while the channel is full, so the events read after it say so.
			if d := n.events.Dropped(); d > dropped {
				n.log.Warnf("%d parameter events were not published on /parameter_events: this publisher fell more than %v behind the parameter changes",
					d-dropped, paramserver.DefaultEventWait)
				dropped = d
			}
		}
	}()
	return nil
}

// awaitSubscriber waits until p has a matched subscription, timeout has passed, or end is closed.
func awaitSubscriber(p *rclgo.Publisher, timeout time.Duration, end <-chan struct{}) {
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if n, err := p.GetSubscriptionCount(); err != nil || n > 0 {
			return
		}
		select {
		case <-end:
			return
		case <-poll.C:
		}
	}
}

// subscribe takes serialized messages of one topic. An empty take is not a lost message: rmw wakes a
// subscription when a publisher leaves, with nothing to take.
func (n *node) subscribe(topic, pkg, msg string, qos rclgo.QosProfile, take func(topic string, raw []byte)) error {
	ts, err := rclgo.LoadDynamicMessageTypeSupport(pkg, msg)
	if err != nil {
		return fmt.Errorf("type support %s/msg/%s: %w", pkg, msg, err)
	}
	_, err = n.rcl.NewSubscription(topic, ts, &rclgo.SubscriptionOptions{Qos: qos}, func(s *rclgo.Subscription) {
		raw, _, err := s.TakeSerializedMessage()
		var empty *rclgo.SubscriptionTakeFailed
		switch {
		case errors.As(err, &empty):
			return
		case err != nil:
			n.reportDecodeError(topic, err)
			return
		}
		take(topic, raw)
	})
	if err != nil {
		return fmt.Errorf("subscription %s: %w", topic, err)
	}
	return nil
}

// watchInputTypes warns, once per publisher, about a publisher whose type differs from what the node
// subscribes with on the same topic (a CompressedImage or a String on the image topic), or whose QoS
// its subscription cannot take (a volatile instruction publisher: rclgo has no QoS events, so this
// is rclcpp's "offering incompatible QoS" warning), and about a camera on the other image transport
// (transportHint). DDS never matches any of them, so without this the node would wait for frames
// without a word.
func (n *node) watchInputTypes(ctx context.Context) {
	warned := map[string]bool{}
	every(ctx, 2*time.Second, func() {
		subs, err := n.rcl.GetSubscriberNamesAndTypesByNode(true, n.rcl.Name(), n.rcl.Namespace())
		if err != nil {
			return
		}
		for topic, types := range subs {
			if len(types) != 1 || topic == "/parameter_events" {
				continue
			}
			pubs, err := n.rcl.GetPublishersInfoByTopic(topic, true) // true: rcl mangles the ROS name
			if err != nil {
				continue
			}
			if hint := transportHint(topic, types[0], len(pubs), n.publishedTypes); hint != "" && !warned[hint] {
				warned[hint] = true
				n.log.Warnf("%s", hint)
			}
			requested, known := n.subscriptionQoS(topic)
			for _, p := range pubs {
				publisher := strings.TrimSuffix(p.NodeNamespace, "/") + "/" + p.NodeName
				offered := rosTypeName(p.TopicType)
				key := topic + " " + publisher + " " + offered
				if offered != types[0] && !warned[key] {
					warned[key] = true
					n.log.Warnf("a publisher (node %s) offers %s on %s, expected %s: none of its messages reach this node",
						publisher, offered, topic, types[0])
				}
				why := ""
				if known {
					why = qosMismatch(requested, qosOf(p.QosProfile))
				}
				if qosKey := key + " qos"; why != "" && !warned[qosKey] {
					warned[qosKey] = true
					n.log.Warnf("a publisher (node %s) on %s offers incompatible QoS, so none of its messages reach this node: %s", publisher, topic, why)
				}
			}
		}
	})
}

// publishedTypes lists the types published on topic, as the graph reports them.
func (n *node) publishedTypes(topic string) []string {
	pubs, err := n.rcl.GetPublishersInfoByTopic(topic, true)
	if err != nil {
		return nil
	}
	var types []string
	for _, p := range pubs {
		types = append(types, rosTypeName(p.TopicType))
	}
	return types
}

// every runs f every period until ctx is done.
func every(ctx context.Context, period time.Duration, f func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

// subscriptionQoS is the QoS of this node's own subscription to topic, as the graph reports it.
func (n *node) subscriptionQoS(topic string) (endpointQoS, bool) {
	subs, err := n.rcl.GetSubscriptionsInfoByTopic(topic, true)
	if err != nil {
		return endpointQoS{}, false
	}
	for _, s := range subs {
		if s.NodeName == n.rcl.Name() && strings.TrimSuffix(s.NodeNamespace, "/") == strings.TrimSuffix(n.rcl.Namespace(), "/") {
			return qosOf(s.QosProfile), true
		}
	}
	return endpointQoS{}, false
}

func qosOf(p rclgo.QosProfile) endpointQoS {
	return endpointQoS{reliable: p.Reliability == rclgo.ReliabilityReliable, transientLocal: p.Durability == rclgo.DurabilityTransientLocal}
}

// diagnoseWhileNotServing publishes, each diagnostics period, that a managed node serves no frames
// while it is not active: the Runner publishes the diagnostics only while it is, and a monitor could
// not tell the node from a dead one.
func (n *node) diagnoseWhileNotServing(ctx context.Context) {
	every(ctx, n.settings.DiagnosticsPeriod, func() {
		if state := n.lifecycleState.Load(); state != nil && n.runner.Load() == nil {
			n.sink.PublishDiagnostics(nodecore.NotServingDiagnostics(n.nodeName, n.settings.HardwareID, *state, n.now()))
		}
	})
}

// rosTypeName turns the DDS type name the graph reports for an endpoint ("std_msgs::msg::dds_::String_")
// into the ROS one ("std_msgs/msg/String").
func rosTypeName(dds string) string {
	if !strings.Contains(dds, "::dds_::") {
		return dds
	}
	return strings.TrimSuffix(strings.ReplaceAll(strings.Replace(dds, "::dds_::", "::", 1), "::", "/"), "_")
}

func (n *node) reportDecodeError(topic string, err error) {
	if n.core != nil {
		n.core.ReportDecodeError(topic, err)
		return
	}
	n.log.Warnf("message on %s dropped: %v", topic, err)
}

func (n *node) onImage(topic string, raw []byte) {
	r := n.runner.Load()
	if r == nil {
		return // not active: a managed node does not process data
	}
	if n.settings.ImageTransport == nodecore.ImageTransportCompressed {
		r.OfferSerializedCompressedFrame(topic, raw)
		return
	}
	r.OfferSerializedFrame(topic, raw)
}

func (n *node) onState(topic string, raw []byte) {
	if r := n.runner.Load(); r != nil {
		r.OfferSerializedState(topic, raw)
	}
}

func (n *node) onInstruction(topic string, raw []byte) {
	var s msgs.String
	if err := msgs.Decode(raw, &s); err != nil {
		n.reportDecodeError(topic, err)
		return
	}
	n.instruction.Store(&s.Data)
	if r := n.runner.Load(); r != nil {
		r.SetInstruction(s.Data)
	}
}

// configure loads the bundle, builds and warms up the sessions, starts the MAVLink bridge and the node
// core: everything that can fail before the node acts.
func (n *node) configure() error {
	s := n.settings
	if s.ModelDir == "" {
		return errors.New("parameter model_dir is empty, expected the model bundle directory (-p model_dir:=/path)")
	}
	engine, err := policy.Open(s.ModelDir, ortbackend.Opener(ortbackend.Config{LibraryPath: ortbackend.DefaultLibrary(), Provider: s.ExecutionProvider,
		IntraOpThreads: s.ORTThreads, TensorRT: ortbackend.TensorRTConfig{FP16: s.TRTFP16}}), s.Live.Skipping)
	if err != nil {
		return err
	}
	// Until the engine is stored in n nothing else closes it: a failure, or a panic the lifecycle
	// machine recovers as an Error, must not leave its sessions (GPU memory under CUDA) open for a
	// second configure to open more.
	configured := false
	defer func() {
		if !configured {
			n.closeForwarder()
			engine.Close()
		}
	}()
	var forwarder nodecore.ChunkForwarder
	if s.Mavlink.Enabled {
		m := engine.Manifest
		fwd, err := startMavlink(s, m.Dims.Chunk, m.Dims.ActionDim, m.Action.GripperIndex)
		if err != nil {
			return err
		}
		n.fwd, forwarder = fwd, fwd
		n.log.Infof("forwarding action chunks over MAVLink to %s (system %d, component %d)",
			s.Mavlink.Endpoint, s.Mavlink.TargetSystem, s.Mavlink.TargetComponent)
	}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: n.params, Sink: n.sink,
		NodeName: n.nodeName, Forwarder: forwarder})
	if err == nil && core.NeedsState() && !n.stateSubscribed {
		core.Close()
		err = fmt.Errorf("bundle %s reads the robot state %v, but its manifest had no state block when the node started, so %s is not subscribed: restart the node",
			s.ModelDir, engine.Manifest.State.Names, nodecore.StateTopic)
	}
	if err != nil {
		return err
	}
	n.engine, n.core, configured = engine, core, true
	n.log.Infof("configured: %s (%s)", s.ModelDir, s.ExecutionProvider)
	return nil
}

// activate starts the worker: frames are served from now on.
func (n *node) activate() {
	n.ticker = time.NewTicker(n.settings.DiagnosticsPeriod)
	tick := n.ticker.C
	if n.clock != nil {
		// Sim time ticks the diagnostics; the wall clock before the first /clock message and while
		// /clock stands still (nodecore.SimClock.WallTick).
		tick = n.clock.Ticks()
		n.wallTicks = make(chan struct{})
		go func(wall <-chan time.Time, stop <-chan struct{}) {
			for {
				select {
				case <-wall:
					n.clock.WallTick()
				case <-stop:
					return
				}
			}
		}(n.ticker.C, n.wallTicks)
	}
	r := &nodecore.Runner{Core: n.core, Now: n.now, DiagnosticsTick: tick}
	_ = r.Initialize() // fails only without a Core, which configure made
	if text := n.instruction.Load(); text != nil {
		r.SetInstruction(*text)
	}
	n.core.RestartEpisode() // the same instruction as before a deactivate is not news to the core
	n.runner.Store(r)
	imageTopic, imageType := n.settings.ImageInput()
	image := n.resolvedTopic(imageTopic, imageType)
	instruction := n.resolvedTopic(n.settings.InstructionTopic, (*msgs.String)(nil).TypeName())
	state := ""
	if n.core.NeedsState() {
		state = n.resolvedTopic(nodecore.StateTopic, (*msgs.JointState)(nil).TypeName())
	}
	n.core.NameTopics(image, instruction, state)
	n.log.Infof("serving %s on %s, instruction on %s", n.settings.ModelDir, image, instruction)
	if state != "" {
		n.log.Infof("robot state %v from %s", n.engine.Manifest.State.Names, state)
	}
}

// resolvedTopic is the name the ROS graph gives this node's subscription of type typeName, after
// its namespace and any remapping (a launch file's image_topic:=/camera/color/image_raw), so that
// the log names the topic a user must publish on. rclgo exposes neither rcl's resolved name nor the
// remap rules; the node subscribes to one topic of each type, so the type finds it. Where the graph
// lists none (yet) or several, the name as configured.
func (n *node) resolvedTopic(configured, typeName string) string {
	subs, err := n.rcl.GetSubscriberNamesAndTypesByNode(true, n.rcl.Name(), n.rcl.Namespace())
	if err != nil {
		return configured
	}
	var found []string
	for topic, types := range subs {
		if slices.Contains(types, typeName) {
			found = append(found, topic)
		}
	}
	if len(found) != 1 {
		return configured
	}
	return found[0]
}

// deactivate stops the worker after the inference in progress; frames are ignored from now on.
func (n *node) deactivate() {
	r := n.runner.Swap(nil)
	if r == nil {
		return
	}
	r.Close()
	if n.ticker != nil {
		n.ticker.Stop()
		n.ticker = nil
	}
	if n.wallTicks != nil {
		close(n.wallTicks)
		n.wallTicks = nil
	}
}

// cleanup releases what configure built.
func (n *node) cleanup() {
	n.deactivate()
	if n.core != nil {
		n.core.Close()
		n.core = nil
	}
	// The bridge closes after the runner has stopped, so no chunk is forwarded to a closed bridge.
	n.closeForwarder()
	if n.engine != nil {
		n.engine.Close()
		n.engine = nil
	}
}

func (n *node) closeForwarder() {
	if n.fwd != nil {
		n.fwd.Bridge.Close()
		n.fwd = nil
	}
}

// teardown ends everything, whatever state the node is in.
func (n *node) teardown() {
	n.cleanup()
	if n.events != nil {
		close(n.eventsEnd)
		n.params.Unsubscribe(n.events)
		n.eventsWG.Wait()
	}
}

// serveParameters creates the six rcl_interfaces parameter services under the node's name. Requests
// arrive as generated Go types; rclgo.Serialize turns them into CDR for nodecore, and the CDR answer
// goes back through rclgo.Deserialize.
func (n *node) serveParameters() error {
	services := map[string]types.ServiceTypeSupport{
		"describe_parameters":       rcl_interfaces_srv.DescribeParametersTypeSupport,
		"get_parameter_types":       rcl_interfaces_srv.GetParameterTypesTypeSupport,
		"get_parameters":            rcl_interfaces_srv.GetParametersTypeSupport,
		"list_parameters":           rcl_interfaces_srv.ListParametersTypeSupport,
		"set_parameters":            rcl_interfaces_srv.SetParametersTypeSupport,
		"set_parameters_atomically": rcl_interfaces_srv.SetParametersAtomicallyTypeSupport,
	}
	for _, name := range nodecore.ParameterServices() {
		ts := services[name]
		handler := func(_ *rclgo.ServiceInfo, req types.Message, sender rclgo.ServiceResponseSender) {
			raw, err := rclgo.Serialize(req)
			if err == nil {
				raw, err = nodecore.ServeParameterRequest(n.params, name, raw)
			}
			var resp types.Message
			if err == nil {
				resp, err = rclgo.Deserialize(raw, ts.Response())
			}
			if err == nil {
				err = sender.SendResponse(resp)
			}
			if err != nil {
				n.log.Errorf("parameter service %s: %v", name, err)
			}
		}
		if _, err := n.rcl.NewService("~/"+name, ts, &rclgo.ServiceOptions{Qos: paramQos()}, handler); err != nil {
			return fmt.Errorf("service ~/%s: %w", name, err)
		}
	}
	return nil
}

// rosState and rosTransition are the lifecycle values as lifecycle_msgs.
func rosState(s lifecycle.State) lifecycle_msgs_msg.State {
	return lifecycle_msgs_msg.State{Id: uint8(s), Label: s.String()}
}

func rosTransition(t lifecycle.Transition) lifecycle_msgs_msg.Transition {
	return lifecycle_msgs_msg.Transition{Id: t.ID, Label: t.Label}
}
