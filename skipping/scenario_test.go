package skipping

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scenarios")

// memRunner runs a walk in memory: every controller answers prob.
type memRunner struct{ prob float32 }

func (memRunner) RunLayer(int) error                   { return nil }
func (memRunner) RunAdapter(int) error                 { return nil }
func (r memRunner) RunController(int) (float32, error) { return r.prob, nil }

// TestScenarios runs the scripts in testdata/*.txt. Each block is a command line, a "----" line and the
// expected output, separated from the next block by a blank line. Commands:
//
//	layout layers=L static=a,b,c
//	config key=value ...           (strategy tau window eta_move eta_verify stride verification pre_skip executed ratio seed)
//	infer [p=P] a=(x y ..) a=(..)  one inference whose chunk is the listed actions; controllers answer P
//	                               (default 1); a verification re-run returns rerun=(..) actions if given,
//	                               else the same chunk
//	abort [p=P]                    an inference planned and walked that fails before its Report (Abort)
//	reset
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var out strings.Builder
			var m *Machine
			var layout Layout
			cfg := DefaultConfig()
			for _, block := range strings.Split(strings.TrimSpace(string(raw)), "\n\n") {
				cmd, want, _ := strings.Cut(block, "\n----")
				cmd = strings.TrimSpace(cmd)
				var got string
				got, m, layout, cfg = runCommand(t, cmd, m, layout, cfg)
				if !*rewrite {
					require.Equal(t, strings.TrimSpace(want), got, "%s: command %q", file, cmd)
				}
				fmt.Fprintf(&out, "%s\n----\n%s\n\n", cmd, got)
			}
			if *rewrite {
				require.NoError(t, os.WriteFile(file, []byte(strings.TrimSpace(out.String())+"\n"), 0o644))
			}
		})
	}
}

func runCommand(t *testing.T, cmd string, m *Machine, layout Layout, cfg Config) (string, *Machine, Layout, Config) {
	lines := strings.Split(cmd, "\n")
	last := lines[len(lines)-1] // comment lines may precede the command
	fields := strings.Fields(last)
	args := map[string]string{}
	var actions, rerun [][]float64
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		require.True(t, ok, "argument %q", f)
		switch k {
		case "a":
			actions = append(actions, parseVec(t, v))
		case "rerun":
			rerun = append(rerun, parseVec(t, v))
		default:
			args[k] = v
		}
	}
	switch fields[0] {
	case "layout":
		layers, err := strconv.Atoi(args["layers"])
		require.NoError(t, err)
		var static []int
		for _, s := range strings.Split(args["static"], ",") {
			v, err := strconv.Atoi(s)
			require.NoError(t, err)
			static = append(static, v)
		}
		l, err := NewLayout(layers, static)
		if err != nil {
			return err.Error(), m, layout, cfg
		}
		m, err = NewMachine(l, cfg)
		require.NoError(t, err)
		return fmt.Sprintf("segments=%v dynamic=%d", l.Segments, l.DynamicLayers()), m, l, cfg
	case "config":
		for k, v := range args {
			applyConfigArg(t, &cfg, k, v)
		}
		if err := m.SetConfig(cfg); err != nil {
			return err.Error(), m, layout, m.Config()
		}
		return cfg.String(), m, layout, cfg
	case "abort":
		plan := m.Plan()
		_, err := plan.Walk(memRunner{prob(t, args)})
		require.NoError(t, err)
		m.Abort()
		return fmt.Sprintf("plan=%s aborted\nallow=%v", DescribePlan(plan), m.AllowPoints()), m, layout, cfg
	case "reset":
		m.Reset()
		return fmt.Sprintf("allow=%v", m.AllowPoints()), m, layout, cfg
	case "infer":
		prob := prob(t, args)
		plan := m.Plan()
		planText := DescribePlan(plan)
		trace, err := plan.Walk(memRunner{prob})
		require.NoError(t, err)
		v := m.Report(actions, trace)
		if v.Rerun {
			full, err := v.Plan.Walk(memRunner{prob})
			require.NoError(t, err)
			chunk := actions
			if rerun != nil {
				chunk = rerun
			}
			require.False(t, m.Report(chunk, full).Rerun, "a verification pass never asks for another")
		}
		return fmt.Sprintf("plan=%s\n%s", planText, Describe(m.Last())), m, layout, cfg
	}
	t.Fatalf("unknown command %q", fields[0])
	return "", m, layout, cfg
}

// prob is what the controllers answer: the p argument, 1 when absent.
func prob(t *testing.T, args map[string]string) float32 {
	p, ok := args["p"]
	if !ok {
		return 1
	}
	v, err := strconv.ParseFloat(p, 32)
	require.NoError(t, err)
	return float32(v)
}

func parseVec(t *testing.T, s string) []float64 {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(f, 64)
		require.NoError(t, err, "action value %q", f)
		out = append(out, v)
	}
	return out
}

func applyConfigArg(t *testing.T, c *Config, k, v string) {
	num := func() float64 {
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "%s=%s", k, v)
		return f
	}
	switch k {
	case "strategy":
		s, err := ParseStrategy(v)
		require.NoError(t, err)
		c.Strategy = s
	case "tau":
		c.ControllerThreshold = num()
	case "window":
		c.ContinuityWindow = int(num())
	case "eta_move":
		c.EtaMove = num()
	case "eta_verify":
		c.EtaVerify = num()
	case "stride":
		c.Stride = int(num())
	case "verification":
		c.Verification = v == "true"
	case "pre_skip":
		c.PreSkipPrediction = v == "true"
	case "executed":
		c.ExecutedActions = int(num())
	case "ratio":
		c.SkipRatio = num()
	case "seed":
		c.Seed = int64(num())
	default:
		t.Fatalf("unknown config key %q", k)
	}
}
