//go:build ros2

//go:generate go tool rclgo-gen generate -d rosgen --include-package-deps rcl_interfaces --include-package-deps lifecycle_msgs --include-package-deps rosgraph_msgs --cgo-flags-path ""
//go:generate find rosgen -name *.go ! -exec grep -q "^//go:build ros2" {} ; -exec sed -i "1i //go:build ros2\\n" {} ;
//go:generate gofmt -w rosgen

// Command dysl_vla_node is the DySL-VLA ROS 2 node: the node core (package nodecore) behind thin rclgo
// glue that moves serialized messages. Every message of the data path is encoded and decoded by package
// msgs; rclgo only sees bytes, except for the parameter and lifecycle services and /clock, whose typed
// bindings rclgo-gen generates into rosgen/. The go:generate lines after it give those files this
// file's ros2 build tag, as every file importing rclgo carries it (rclgo-gen writes none), and gofmt
// them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tiiuae/rclgo/pkg/rclgo"

	rosgraph_msgs_msg "dysl_vla/nodes/dysl_vla_node/rosgen/rosgraph_msgs/msg"

	"dysl_vla/lifecycle"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

const nodeName = "dysl_vla_node"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, nodeName+":", withoutTrace(err))
		os.Exit(1)
	}
}

func run() (err error) {
	// The first SIGINT or SIGTERM ends the spin; every later one is swallowed while the node shuts
	// down. ros2 launch without a terminal sends a second SIGINT after the process group's, and a
	// node that had given the signal back to its default action would die of it ("exit code -2").
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for range sigs {
			cancel()
		}
	}()

	rosArgs, _, err := rclgo.ParseArgs(os.Args[1:])
	if err != nil {
		return err
	}
	if err := rclgo.Init(rosArgs); err != nil {
		return err
	}
	defer finishROSLog() // deferred first, so it runs last: after every line is logged and rclgo is down
	defer rclgo.Uninit()
	// rcl applies -r __node:= and __ns:= itself (global arguments).
	rn, err := rclgo.NewNode(nodeName, "")
	if err != nil {
		return err
	}
	defer rn.Close()
	// From here a failure to start (a bad bundle, a bad parameter) also goes to the ROS log, and so
	// to /rosout, where an operator watching the robot looks, not only to the terminal.
	defer func() {
		if err != nil {
			rn.Logger().Error(withoutTrace(err)) //nolint:errcheck // the error is returned as well
		}
	}()
	// After the node exists, so that a -p value the node refuses (use_sim_time:=1) is logged as the
	// other start-up failures are.
	args, err := paramserver.ParseArgs(os.Args[1:], nodeName, "/")
	if err != nil {
		return err
	}

	// Parameter events are stamped by the node's clock (sim time under use_sim_time), as rclcpp stamps
	// them; the clock exists once the node does, before any event is published.
	var n *node
	params, settings, err := nodecore.NewParamServer(args.FullyQualifiedName(), args.Overrides, func() time.Time {
		if n == nil {
			return time.Now()
		}
		return n.now()
	})
	if err != nil {
		return err
	}
	n = &node{rcl: rn, log: rn.Logger(), params: params, settings: settings, nodeName: args.NodeName}
	warnings, err := paramserver.IgnoredSettings(params, args.ParamsFiles)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		n.log.Warn(w)
	}
	if err := n.createEndpoints(); err != nil {
		return err
	}
	defer n.teardown()
	// The watchers below use the rcl node and its publishers: they must stop before teardown and
	// rn.Close free them (deferred calls run last first), also when Spin fails and ctx lives on.
	watchCtx, stopWatchers := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	defer func() {
		stopWatchers()
		watchers.Wait()
	}()

	if settings.Managed {
		n.machine = lifecycle.NewMachine()
		if err := n.serveLifecycle(); err != nil {
			return err
		}
		n.log.Infof("managed node: %s, waiting for configure on ~/change_state", n.machine.State())
		watchers.Go(func() { n.diagnoseWhileNotServing(watchCtx) })
	} else {
		if err := n.configure(); err != nil {
			return err
		}
		n.activate()
	}

	watchers.Go(func() { n.watchInputTypes(watchCtx) })
	if err := rclgo.Spin(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	n.log.Info("shutting down")
	return nil
}

// serveClock follows /clock when use_sim_time is set. rclcpp subscribes with the clock QoS: keep last
// 1, best effort is what ros2 bag play --clock offers.
func (n *node) serveClock() error {
	if !n.settings.UseSimTime {
		return nil
	}
	n.clock = &nodecore.SimClock{Period: n.settings.DiagnosticsPeriod}
	qos := rclgo.QosProfile{History: rclgo.HistoryKeepLast, Depth: 1,
		Reliability: rclgo.ReliabilityBestEffort, Durability: rclgo.DurabilityVolatile}
	_, err := n.rcl.NewSubscription("/clock", rosgraph_msgs_msg.ClockTypeSupport,
		&rclgo.SubscriptionOptions{Qos: qos}, func(s *rclgo.Subscription) {
			var m rosgraph_msgs_msg.Clock
			if _, err := s.TakeMessage(&m); err != nil {
				return // an empty take (a publisher left) or a message lost in transit
			}
			n.clock.Set(time.Unix(int64(m.Clock.Sec), int64(m.Clock.Nanosec)))
		})
	if err != nil {
		return fmt.Errorf("subscription /clock: %w", err)
	}
	return nil
}

// now is the node's clock: /clock under use_sim_time (zero before its first message), else the
// system clock.
func (n *node) now() time.Time {
	if n.clock != nil {
		return n.clock.Now()
	}
	return time.Now()
}

// rosSink publishes the core's outputs as serialized messages and logs its notices, each kind (and
// reason) of per-frame notice at most once per nodecore.DefaultNoticePeriod of wall time, a new
// instruction at most once a second (nodecore.NoticeThrottle; the diagnostics count the frames).
type rosSink struct {
	chunk, stats, diag *rclgo.Publisher
	log                *rclgo.Logger
	throttle           nodecore.NoticeThrottle
}

func (s *rosSink) PublishActionChunk(c *msgs.ActionChunk) { publish(s.chunk, c, s.log) }
func (s *rosSink) PublishSkipStats(st *msgs.SkipStats)    { publish(s.stats, st, s.log) }

// PublishDiagnostics also logs the notices held back of a problem that has stopped since, once a
// period: the diagnostics are published once a period too.
func (s *rosSink) PublishDiagnostics(d *msgs.DiagnosticArray) {
	publish(s.diag, d, s.log)
	for _, h := range s.throttle.Held(time.Now()) {
		s.logAt(h.Last, h.Line)
	}
}

func (s *rosSink) Notice(e nodecore.Event) {
	if line, ok := s.throttle.Line(e, time.Now()); ok {
		s.logAt(e, line)
	}
}

// logAt logs line at the level of e's kind.
func (s *rosSink) logAt(e nodecore.Event, line string) {
	switch e.(type) {
	case nodecore.EventInferenceFailed, nodecore.EventNonFiniteAction, nodecore.EventParametersNotApplied:
		s.log.Error(line)
	case nodecore.EventInstruction:
		s.log.Info(line)
	case nodecore.EventFrameSuperseded:
		s.log.Debug(line) // routine under load; counted in the diagnostics
	default:
		s.log.Warn(line)
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
