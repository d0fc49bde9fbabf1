package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// asDysl, set in a child's environment, makes the test binary run as the dysl command itself, so the
// probe below runs each command in a process it can limit and kill without building another binary.
const asDysl = "DYSL_TEST_RUN_AS_DYSL"

func TestMain(m *testing.M) {
	if os.Getenv(asDysl) == "1" {
		main() // os.Args[1:] are the command's; main exits 1 on an error
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probeValue asks for the probe and says which value it gives every flag.
const probeValue = "DYSL_PROBE_VALUE"

// Every numeric flag of every command, given DYSL_PROBE_VALUE (scripts/probe-flags.sh gives 10^9), in
// its own process under an address-space limit and a time limit: each run must be refused, finish, or
// still be running at the time limit (the long run the value asked for); a panic or the Go runtime's
// "fatal error" (out of memory) fails the test. Values that large cannot be run to their end, which is
// why this is not part of the test command: about 8 minutes on 2 cores.
func TestNumericFlagsWithAValue(t *testing.T) {
	value := os.Getenv(probeValue)
	if value == "" {
		t.Skip("set " + probeValue + " (scripts/probe-flags.sh)")
	}
	timeout := envSeconds(t, "DYSL_PROBE_TIMEOUT", 10)
	limitKiB := envSeconds(t, "DYSL_PROBE_LIMIT_KB", 6_000_000)
	fx := newFlagFixture(t)
	counts := map[string]int{}
	var lines []string
	for _, nf := range numericFlags(t) {
		v := value
		if nf.flag.Value.Type() == "duration" && regexp.MustCompile(`^[-+0-9.eE]+$`).MatchString(v) {
			v += "s"
		}
		run := fx
		run.model = filepath.Join(t.TempDir(), "tiny") // calibrate and distill rewrite their bundle
		require.NoError(t, os.CopyFS(run.model, os.DirFS(fx.model)))
		args := append(nf.args(run), "--"+nf.flag.Name+"="+v)
		kind, first := probeOnce(t, args, time.Duration(timeout)*time.Second, limitKiB)
		counts[kind]++
		lines = append(lines, fmt.Sprintf("%-8s %-15s %-34s %s", kind, nf.command, "--"+nf.flag.Name+"="+v, first))
		if kind == "CRASH" {
			t.Errorf("dysl %s: %s", strings.Join(args, " "), first)
		}
	}
	sort.Strings(lines)
	t.Logf("value %s, %d s and %d KiB a run:\n%s\ncounts: %v", value, timeout, limitKiB, strings.Join(lines, "\n"), counts)
	require.Greater(t, len(lines), 100, "the walk reached the commands' flags")
}

// probeOnce runs dysl with args in a child process under ulimit -v limitKiB for at most timeout, and
// says how it ended: "error" (refused), "ok" (finished), "RUNNING" (killed at the timeout) or "CRASH"
// (a panic or a fatal error), with the first line that tells.
func probeOnce(t *testing.T, args []string, timeout time.Duration, limitKiB int) (kind, first string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	self, err := os.Executable()
	require.NoError(t, err)
	// exec keeps one process, so the kill at the timeout reaches dysl itself.
	shell := append([]string{"-c", `ulimit -v "$0" && exec "$@"`, strconv.Itoa(limitKiB), self}, args...)
	cmd := exec.CommandContext(ctx, "sh", shell...)
	cmd.Env = append(os.Environ(), asDysl+"=1")
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "panic") || strings.HasPrefix(line, "fatal error") {
			return "CRASH", line
		}
		if first == "" && strings.HasPrefix(line, "dysl:") {
			first = line
		}
	}
	first = first[:min(len(first), 140)]
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return "RUNNING", first
	case errors.As(err, &exit):
		return "error", first
	case err != nil:
		t.Fatalf("dysl %s: %v", strings.Join(args, " "), err)
	}
	return "ok", first
}

func envSeconds(t *testing.T, name string, fallback int) int {
	s := os.Getenv(name)
	if s == "" {
		return fallback
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%s: expected a whole number", name)
	return n
}
