package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
)

// negativeMeans lists the numeric flags where a negative number is a setting, with what it means; every
// other numeric flag of every command must refuse one.
var negativeMeans = map[string]string{
	"seed":           "any 64-bit number seeds the generators",
	"episode-seed":   "any 64-bit number seeds the episodes",
	"residual-scale": "below 0: no scaling of the residual branches",
	"exit-threshold": "negative: match early exit's eta to DySL's executed layers",
	"gripper-open":   "a policy's gripper column may take negative values",
	"gripper-closed": "a policy's gripper column may take negative values",
}

// Every numeric flag of every command, given a negative number or NaN, is refused with an error that
// quotes the value, and nothing panics: the commands are walked from the root, so a flag added later
// is probed too. A command with numeric flags and no entry in numericFlags' table fails the test.
func TestEveryNumericFlagRefusesNegativeAndNaN(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a tiny bundle once per flag")
	}
	fx := newFlagFixture(t)
	probed := 0
	for _, nf := range numericFlags(t) {
		for _, v := range badValues(nf.flag.Value.Type()) {
			if v.negative && negativeMeans[nf.flag.Name] != "" {
				continue
			}
			cmdArgs := append(nf.args(fx), "--"+nf.flag.Name+"="+v.text)
			err := runWithin(t, 2*time.Minute, cmdArgs...)
			if err == nil {
				t.Errorf("dysl %s: accepted", strings.Join(cmdArgs, " "))
				continue
			}
			require.Contains(t, err.Error(), v.quoted, "dysl %s: the error should quote the value given", strings.Join(cmdArgs, " "))
			probed++
		}
	}
	require.Greater(t, probed, 100, "the walk reached the commands' flags")
	t.Logf("%d bad values refused", probed)
}

// flagFixture is what the commands under probe read: a tiny bundle, a one-episode bag, and fresh
// output paths.
type flagFixture struct {
	model, bag string
	out        func(name string) string
}

func newFlagFixture(t *testing.T) flagFixture {
	t.Setenv(ortbackend.LibraryEnvVar, orttest.Library(t))
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny")
	_, _, err := runDysl("model", "build", "--preset", "tiny", "--out", model, "--calibration", "8")
	require.NoError(t, err)
	bag := filepath.Join(dir, "bag")
	_, _, err = runDysl("bag", "gen", "--out", bag, "--episodes", "1")
	require.NoError(t, err)
	return flagFixture{model: model, bag: bag, out: func(name string) string { return filepath.Join(t.TempDir(), name) }}
}

// numericFlag is one numeric flag of one command; args are the command's words, its smallest
// arguments and the flags the one under test needs, to which the caller appends the value.
type numericFlag struct {
	command string
	flag    *pflag.Flag
	args    func(flagFixture) []string
}

// numericFlags walks the command tree from the root and lists every numeric flag of every runnable
// command (pflag's int, float, duration and slice types).
func numericFlags(t *testing.T) []numericFlag {
	// What each command needs besides the flag under test, at its smallest.
	base := map[string]func(flagFixture) []string{
		"bag gen": func(fx flagFixture) []string { return []string{"--out", fx.out("bag")} },
		"bench": func(fx flagFixture) []string {
			return []string{"--model", fx.model, "--iterations", "2", "--warmup", "1"}
		},
		"calibrate": func(fx flagFixture) []string { return []string{"--model", fx.model, "--episodes", "1"} },
		"demo":      func(fx flagFixture) []string { return []string{"--out", fx.out("demo"), "--episodes", "1"} },
		"distill": func(fx flagFixture) []string {
			return []string{"--model", fx.model, "--episodes", "1", "--stage1-steps", "1", "--stage2-steps", "1"}
		},
		"evaluate":       func(fx flagFixture) []string { return []string{"--model", fx.model, "--episodes", "1"} },
		"mavlink listen": func(flagFixture) []string { return []string{"--endpoint", "udp-server:127.0.0.1:0"} },
		"model build":    func(fx flagFixture) []string { return []string{"--out", fx.out("bundle"), "--calibration", "8"} },
		"model check":    func(fx flagFixture) []string { return []string{fx.model} },
		"replay": func(fx flagFixture) []string {
			return []string{"--model", fx.model, "--bag", fx.bag, "--out", fx.out("replay")}
		},
		"sweep": func(fx flagFixture) []string { return []string{"--model", fx.model, "--episodes", "1"} },
		"train bc": func(fx flagFixture) []string {
			return []string{"--preset", "tiny", "--steps", "1", "--episodes", "1", "--out", fx.out("w.safetensors")}
		},
		"train dagger": func(fx flagFixture) []string {
			return []string{"--model", fx.model, "--episodes", "1", "--out", fx.out("states.json")}
		},
	}
	// Flags that another flag turns on: without it they are refused as unused, whatever their value.
	var closedLoop closedLoopFlags
	closedLoop.register(pflag.NewFlagSet("closed loop", pflag.ContinueOnError))
	needs := map[string][]string{
		"chain":              {"--tasks", "chain"},
		"latency-fixed":      {"--latency", "fixed"},
		"latency-per-layer":  {"--latency", "per-layer"},
		"near-target-radius": {"--near-target-weight", "1"},
	}
	var mavlink mavlinkFlags
	mavlink.register(pflag.NewFlagSet("mavlink", pflag.ContinueOnError))
	for _, name := range flagNames(mavlink.link) {
		needs[name] = []string{"--mavlink", "udp-client:127.0.0.1:9"}
	}

	var flags []numericFlag
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.HasSubCommands() {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), "dysl ")
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if badValues(f.Value.Type()) == nil {
				return
			}
			args, ok := base[path]
			if !ok {
				t.Errorf("dysl %s has the numeric flag --%s: add the command to numericFlags' table", path, f.Name)
				return
			}
			flags = append(flags, numericFlag{command: path, flag: f, args: func(fx flagFixture) []string {
				cmdArgs := append(strings.Fields(path), args(fx)...)
				if path == "evaluate" && slices.Contains(closedLoop.only, f.Name) {
					cmdArgs = append(cmdArgs, "--closed-loop")
				}
				return append(cmdArgs, needs[f.Name]...)
			}})
		})
	}
	walk(newRootCmd())
	return flags
}

// badValue is a value to give a numeric flag and what its refusal must quote.
type badValue struct {
	text, quoted string
	negative     bool
}

// badValues are the bad values for a flag of this pflag type; nil for a flag that takes no number.
func badValues(flagType string) []badValue {
	negative := badValue{text: "-3", quoted: "-3", negative: true}
	nan := badValue{text: "NaN", quoted: "NaN"}
	switch flagType {
	case "int", "int64", "uint8", "uint":
		return []badValue{negative}
	case "float64", "float32", "float64Slice":
		return []badValue{negative, nan}
	case "duration":
		return []badValue{{text: "-3s", quoted: "-3", negative: true}}
	}
	return nil
}

// runWithin runs the command tree like runDysl, cancelling the commands that wait on their context
// (mavlink listen) after limit, so a flag that is wrongly accepted fails the test instead of hanging it.
func runWithin(t *testing.T, limit time.Duration, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	root := newRootCmd()
	var discard bytes.Buffer
	root.SetOut(&discard)
	root.SetErr(&discard)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
