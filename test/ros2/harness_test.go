//go:build ros2

package ros2test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// A process started with SIGINT ignored (a background job of a script) passes that on to its
	// children, and a shutdown test would then pass by accident. Catching SIGINT here gives every child
	// the default disposition, as a terminal would.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		for range sigs {
		}
	}()
	for _, tool := range []string{"ros2", "dysl_vla_node"} {
		if _, err := findTool(tool); err != nil {
			fmt.Fprintln(os.Stderr, "ros2test:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// findTool finds an executable of the environment: ros2 on PATH, the node in the sourced colcon install.
func findTool(name string) (string, error) {
	if name == "dysl_vla_node" {
		for _, prefix := range strings.Split(os.Getenv("AMENT_PREFIX_PATH"), ":") {
			p := filepath.Join(prefix, "lib", "dysl_vla", name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("dysl_vla_node not found under AMENT_PREFIX_PATH: build with colcon and source install/setup.bash (scripts/test-ros2.sh does both)")
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not on PATH: source /opt/ros/humble/setup.bash (scripts/test-ros2.sh does it)", name)
	}
	return p, nil
}

// repoRoot is the checkout the tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// referenceModel is the committed reference bundle.
func referenceModel(t *testing.T) string {
	return filepath.Join(repoRoot(t), "models", "reference", "tiny")
}

// dyslTool is the dysl command built by scripts/test-ros2.sh into bin/.
func dyslTool(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "bin", "dysl")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: go build -o bin/ ./nodes/dysl (scripts/test-ros2.sh does it)", p)
	}
	return p
}

var nextDomain atomic.Int32

// ROS is one test's ROS 2 world: its own domain on the loopback interface and the processes it started.
type ROS struct {
	t      *testing.T
	Domain int
	env    []string
}

// NewROS gives the test a domain of its own. Tests do not run in parallel: about ten DDS participants
// fit in one domain without multicast, and fewer share the machine's cores.
func NewROS(t *testing.T) *ROS {
	t.Helper()
	base := 30 + os.Getpid()%40
	domain := base + int(nextDomain.Add(1))%60
	env := append(os.Environ(), "ROS_LOCALHOST_ONLY=1", fmt.Sprintf("ROS_DOMAIN_ID=%d", domain),
		"RCUTILS_COLORIZED_OUTPUT=0", "PYTHONUNBUFFERED=1")
	return &ROS{t: t, Domain: domain, env: env}
}

// Env returns the environment the test's processes run with, plus extra entries.
func (r *ROS) Env(extra ...string) []string { return append(append([]string(nil), r.env...), extra...) }

// Process is a started process whose output is kept for matching.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs a long-lived process in its own process group (as a shell job would), with the test's
// environment. The test's cleanup interrupts the group and kills it if it lingers.
func (r *ROS) Start(name string, extraEnv []string, argv ...string) *Process {
	r.t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = r.Env(extraEnv...)
	cmd.Dir = r.t.TempDir()
	p := &Process{Name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Pdeathsig: if the test binary itself dies (a timeout, a closed output pipe) before its cleanup
	// runs, the process is told to end too instead of lingering on the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	r.t.Cleanup(func() {
		p.Stop(syscall.SIGINT, 10*time.Second)
		if r.t.Failed() {
			r.t.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

// Output is everything the process wrote so far.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process alone.
func (p *Process) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// SignalGroup sends sig to the process group: what a Ctrl-C in a terminal does.
func (p *Process) SignalGroup(sig syscall.Signal) { _ = syscall.Kill(-p.cmd.Process.Pid, sig) }

// Wait waits at most timeout for the process to exit and returns its exit code (-1: still running
// or killed by a signal).
func (p *Process) Wait(timeout time.Duration) (code int, exited bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return -1, false
	}
}

// Stop interrupts the process group and kills it after grace.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.SignalGroup(sig)
	if _, ok := p.Wait(grace); !ok {
		p.SignalGroup(syscall.SIGKILL)
		p.Wait(5 * time.Second)
	}
}

// WaitFor waits at most timeout for the process output to match pattern and returns the match.
func (p *Process) WaitFor(t *testing.T, pattern string, timeout time.Duration) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.Output()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing %q; output:\n%s", p.Name, p.err, pattern, p.Output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v; output:\n%s", p.Name, pattern, timeout, p.Output())
		}
	}
}

// Run runs a command to completion within timeout and returns its combined output.
func (r *ROS) Run(timeout time.Duration, argv ...string) (string, error) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = r.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s: timed out after %v", strings.Join(argv, " "), timeout)
	}
	return string(out), err
}

// MustRun is Run that fails the test on an error.
func (r *ROS) MustRun(timeout time.Duration, argv ...string) string {
	r.t.Helper()
	out, err := r.Run(timeout, argv...)
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// ROS2 runs one ros2 CLI command (without the daemon, which would be one more participant).
func (r *ROS) ROS2(timeout time.Duration, args ...string) (string, error) {
	r.t.Helper()
	return r.Run(timeout, append([]string{"ros2"}, withNoDaemon(args)...)...)
}

// withNoDaemon adds --no-daemon to the ros2 verbs that take it.
func withNoDaemon(args []string) []string {
	if len(args) < 2 {
		return args
	}
	switch args[0] + " " + args[1] {
	case "param list", "param get", "param set", "param describe", "param dump", "param load",
		"node list", "node info", "topic list", "topic echo", "topic info",
		"service list":
		return append(append([]string(nil), args...), "--no-daemon")
	}
	return args
}
