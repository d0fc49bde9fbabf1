package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy/ortbackend/orttest"
)

// A misspelt key and a block for another node are warned about before anything runs; the values that
// do apply still apply.
func TestReplayWarnsAboutIgnoredParams(t *testing.T) {
	dir := t.TempDir()
	params := filepath.Join("..", "..", "replay", "testdata", "ignored_params.yaml")
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--params", params)
	require.Error(t, err, "the model does not exist")
	require.Contains(t, stderr, "warning: params file "+params+": controler_threshold is not a parameter of /dysl_vla_node; ignored")
	require.Contains(t, stderr, "warning: params file "+params+": node block /dysl_vla_nod does not match /dysl_vla_node; ignored")
	require.NotContains(t, stderr, "eta_move")
}

// The node's own params file draws no warning: every key in it is a parameter of the node.
func TestReplayShippedParamsFileHasNoIgnoredKeys(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--params", "../../params/dysl_vla.yaml")
	require.Error(t, err, "the model does not exist")
	require.NotContains(t, stderr, "warning")
}

// The link's settings without --mavlink would change nothing: they are refused before the bag or the
// model is opened.
func TestReplayRefusesLinkFlagsWithoutMavlink(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--mavlink-link-timeout", "1s", "--mavlink-target-system", "2")
	require.EqualError(t, err, "--mavlink-link-timeout, --mavlink-target-system: only with --mavlink")
	require.NoDirExists(t, filepath.Join(dir, "out"))
}

// The link's settings are refused where the node's mavlink.* parameters would refuse them, before the
// bag or the model is opened: 0 is no controller id (the library took it for 1).
func TestReplayRefusesLinkSettingsTheNodeWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--mavlink-target-system", "0"}, "--mavlink-target-system: nodecore: parameter 'mavlink.target_system' could not be set to 0 (range 1 to 255)"},
		{[]string{"--mavlink-target-component", "0"}, "--mavlink-target-component: nodecore: parameter 'mavlink.target_component' could not be set to 0 (range 1 to 255)"},
		{[]string{"--mavlink-link-timeout", "0"}, "--mavlink-link-timeout: nodecore: parameter 'mavlink.link_timeout' could not be set to 0 (range 0.1 to 60)"},
		{[]string{"--mavlink-link-timeout", "2m"}, "--mavlink-link-timeout: nodecore: parameter 'mavlink.link_timeout' could not be set to 120 (range 0.1 to 60)"},
	} {
		args := append([]string{"replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
			"--out", filepath.Join(dir, "out"), "--mavlink", "udp-client:127.0.0.1:9"}, tc.flags...)
		_, _, err := runDysl(args...)
		require.ErrorContains(t, err, tc.want)
		require.NoDirExists(t, filepath.Join(dir, "out"))
	}
}

// A params file that enables MAVLink does not send a replay's chunks to the robot's controller: only
// --mavlink does, and the replay says so.
func TestReplayWarnsThatTheParamsFileDoesNotEnableMavlink(t *testing.T) {
	dir := t.TempDir()
	params := filepath.Join(dir, "params.yaml")
	require.NoError(t, os.WriteFile(params, []byte("dysl_vla_node:\n  ros__parameters:\n    mavlink:\n      enabled: true\n      endpoint: \"serial:/dev/ttyUSB0:921600\"\n"), 0o644))
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--params", params)
	require.Error(t, err, "the model does not exist")
	require.Contains(t, stderr, "warning: "+params+" sets mavlink.enabled, but a replay sends over MAVLink only with --mavlink ENDPOINT: nothing is sent to serial:/dev/ttyUSB0:921600\n")
}

// dysl replay --mavlink sends its chunks to a controller that dysl mavlink listen stands in for; each
// command prints on its own root's output.
func TestReplaySendsChunksToMavlinkListen(t *testing.T) {
	if testing.Short() {
		t.Skip("replays an episode on the reference model")
	}
	lib := orttest.Library(t)
	dir := t.TempDir()
	bagDir := filepath.Join(dir, "bag")
	_, _, err := runDysl("bag", "gen", "--out", bagDir, "--episodes", "1")
	require.NoError(t, err)

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := conn.LocalAddr().String()
	require.NoError(t, conn.Close())

	type output struct {
		stdout string
		err    error
	}
	listened := make(chan output, 1)
	go func() {
		stdout, _, err := runDysl("mavlink", "listen", "--endpoint", "udp-server:"+addr, "--count", "2")
		listened <- output{stdout, err}
	}()
	stdout, _, err := runDysl("replay", "--model", filepath.Join("..", "..", "models", "reference", "tiny"),
		"--ort-lib", lib, "--bag", bagDir, "--out", filepath.Join(dir, "out"), "--mavlink", "udp-client:"+addr)
	require.NoError(t, err)
	require.Contains(t, stdout, "report: "+filepath.Join(dir, "out", "report.md"))
	require.Regexp(t, `mavlink udp-client:`+regexp.QuoteMeta(addr)+`: [1-9]\d* chunks sent, `, stdout)

	select {
	case l := <-listened:
		require.NoError(t, l.err)
		require.Contains(t, l.stdout, "heartbeat sys=1 comp=191 type=MAV_TYPE_ONBOARD_CONTROLLER\n")
		require.Equal(t, 2, strings.Count(l.stdout, "\nchunk seq="), l.stdout)
	case <-time.After(30 * time.Second):
		t.Fatal("dysl mavlink listen did not see two chunks")
	}
}

// A replay that acted on no frame tested nothing of the model: it prints its report, hint included,
// and fails, so that a script does not take it for a pass. The recording's header stamps are of 2023,
// its log times of a later day: without use_sim_time every frame is stale.
func TestReplayOfNothingActedOnFails(t *testing.T) {
	lib := orttest.Library(t)
	out := filepath.Join(t.TempDir(), "out")
	stdout, _, err := runDysl("replay", "--model", filepath.Join("..", "..", "models", "reference", "tiny"),
		"--ort-lib", lib, "--bag", filepath.Join("..", "..", "bag", "testdata", "humble", "replayed_sqlite3"), "--out", out)
	require.EqualError(t, err, "replay: no frame was acted on; the report says why and what to do")
	require.Contains(t, stdout, "report: "+filepath.Join(out, "report.md"))
	require.Contains(t, stdout, "The bag records /clock: replay with `use_sim_time: true`")
}

// --state-topic names a topic only a bundle with a state block reads: with the tiny bundle, which
// has none, it was accepted and ignored (with a state bundle a wrong one is refused as missing).
func TestReplayRefusesAStateTopicItWouldNotRead(t *testing.T) {
	lib := orttest.Library(t)
	out := filepath.Join(t.TempDir(), "out")
	model := filepath.Join("..", "..", "models", "reference", "tiny")
	_, _, err := runDysl("replay", "--model", model, "--ort-lib", lib, "--state-topic", "/nope",
		"--bag", filepath.Join("..", "..", "bag", "testdata", "humble", "replayed_sqlite3"), "--out", out)
	require.EqualError(t, err, "--state-topic /nope: the bundle "+model+" reads no robot state (its manifest has no state block), so no topic of the bag would be read for it")
	require.NoDirExists(t, out)
}

// Without --params there is no file to speak of: --mavlink given alone warned that " sets
// mavlink.endpoint to ..." (the defaults taken for a file's settings). The model here does not
// exist, so the command stops just after the warnings would have been printed.
func TestReplayWithoutParamsWarnsOfNoFile(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--mavlink", "udp-client:127.0.0.1:9", "--threads", "2")
	require.ErrorContains(t, err, filepath.Join(dir, "no-model"), "it got as far as the model")
	require.NotContains(t, stderr, "warning")
}

// A params file whose node settings a replay's flags decide is told where it differs: a file asking
// for cuda was replayed on the CPU without a word. The node's own file, every default, says nothing.
func TestReplaySaysWhichNodeSettingsItRunsOtherwise(t *testing.T) {
	ef := engineFlags{model: "models/x", provider: "cpu", threads: 1, trtFP16: true}
	mf := mavlinkFlags{}
	shipped := filepath.Join("..", "..", "params", "dysl_vla.yaml")
	_, defaults, err := nodecore.LoadParams(shipped, "/dysl_vla_node", nil)
	require.NoError(t, err)
	given, err := paramserver.LoadParamsFile(shipped, "/dysl_vla_node")
	require.NoError(t, err)
	require.Empty(t, settingsReplayRunsOtherwise(shipped, given, defaults, &ef, &mf))

	robot := defaults
	robot.ModelDir, robot.ExecutionProvider, robot.ORTThreads = "/opt/models/arm", "cuda", 4
	robot.Mavlink.TargetSystem = 7
	require.Equal(t, []string{
		"robot.yaml sets model_dir to /opt/models/arm, but a replay runs with --model models/x",
		"robot.yaml sets execution_provider to cuda, but a replay runs with --provider cpu",
		"robot.yaml sets ort_intra_op_threads to 4, but a replay runs with --threads 1",
	}, settingsReplayRunsOtherwise("robot.yaml", given, robot, &ef, &mf), "the MAVLink ids matter only with --mavlink")

	// The MAVLink flags as a replay has them: their defaults, the endpoint given.
	parsed, err := parseMavlinkFlags(t, "--mavlink", "udp-client:127.0.0.1:14551")
	require.NoError(t, err)
	mf = *parsed
	robot.ModelDir = "models/./x"
	require.Equal(t, []string{
		"robot.yaml sets execution_provider to cuda, but a replay runs with --provider cpu",
		"robot.yaml sets ort_intra_op_threads to 4, but a replay runs with --threads 1",
		"robot.yaml sets mavlink.endpoint to udp-client:127.0.0.1:14550, but a replay runs with --mavlink udp-client:127.0.0.1:14551",
		"robot.yaml sets mavlink.target_system to 7, but a replay runs with --mavlink-target-system 1",
	}, settingsReplayRunsOtherwise("robot.yaml", given, robot, &ef, &mf))

	// A file's gripper convention is the replay's, as any node parameter it does not decide by a flag.
	arm := map[string]paramserver.Value{nodecore.ParamGripperOpen: paramserver.Double(0), nodecore.ParamGripperClosed: paramserver.Double(1)}
	robot.Gripper = gripper.Convention{Open: 0, Closed: 1}
	require.Empty(t, settingsReplayRunsOtherwise("arm.yaml", arm, robot, &ef, &mf))

	// Only what the file sets: a file of one parameter names nothing else, whatever the defaults.
	one := map[string]paramserver.Value{nodecore.ParamExecutionProvider: paramserver.String("cuda")}
	require.Equal(t, []string{"one.yaml sets execution_provider to cuda, but a replay runs with --provider cpu"},
		settingsReplayRunsOtherwise("one.yaml", one, robot, &ef, &mf))
}

// --gripper-open and --gripper-closed are the node's gripper_open and gripper_closed, outside the
// MAVLink flags: without --mavlink they are judged by the parameters, before the bag or the model is
// opened, each flag against the other's value (the default here): --gripper-open 1 alone is the
// inverted convention's half, and equal to gripper_closed's default.
func TestReplayRefusesGripperFlagsTheNodeWould(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--gripper-open", "0", "--gripper-closed", "0"}, "--gripper-open and --gripper-closed: " +
			"parameters gripper_open and gripper_closed are both 0: expected two different values, the gripper column's fully open and fully closed"},
		{[]string{"--gripper-open", "1"}, "--gripper-open: parameters gripper_open and gripper_closed are both 1: expected two different values"},
		{[]string{"--gripper-open", "NaN"}, "--gripper-open: nodecore: parameter 'gripper_open' could not be set to NaN (range -1000 to 1000)"},
		{[]string{"--gripper-closed", "+Inf"}, "--gripper-closed: nodecore: parameter 'gripper_closed' could not be set to +Inf (range -1000 to 1000)"},
	} {
		args := append([]string{"replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
			"--out", filepath.Join(dir, "out")}, tc.flags...)
		_, _, err := runDysl(args...)
		require.ErrorContains(t, err, tc.want)
		require.NoDirExists(t, filepath.Join(dir, "out"))
	}
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--gripper-open", "1", "--gripper-closed", "-1")
	require.ErrorContains(t, err, filepath.Join(dir, "no-model"), "the inverted convention is taken: it got as far as the model")
	require.NotContains(t, stderr, "warning")
}

// The replay's gripper convention: --params' gripper_open and gripper_closed where no flag is given,
// and a flag given wins over the file's value, as -p over --params-file; the other value stays the
// file's, which a flag is then judged against.
func TestGripperFlagsGoOnTopOfTheParamsFile(t *testing.T) {
	file := map[string]paramserver.Value{nodecore.ParamGripperOpen: paramserver.Double(0), nodecore.ParamGripperClosed: paramserver.Double(1)}
	fileServer, fileSettings, err := nodecore.NewParamServer("/dysl_vla_node", file, nil)
	require.NoError(t, err)
	run := func(given map[string]paramserver.Value, args ...string) (*paramserver.Server, gripper.Convention, error) {
		var g gripperFlags
		f := pflag.NewFlagSet("replay", pflag.ContinueOnError)
		g.register(f)
		require.NoError(t, f.Parse(args))
		srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", given, nil)
		require.NoError(t, err)
		if given != nil {
			srv, settings = fileServer, fileSettings
		}
		srv, settings, err = g.apply(f, given, srv, settings)
		if err != nil {
			return nil, gripper.Convention{}, err
		}
		held, err := nodecore.SettingsOf(srv)
		require.NoError(t, err)
		require.Equal(t, held.Gripper, settings.Gripper, "the server the node core reads holds them")
		return srv, settings.Gripper, nil
	}

	srv, c, err := run(file)
	require.NoError(t, err)
	require.Same(t, fileServer, srv, "no flag: the file's parameters as loaded")
	require.Equal(t, gripper.Convention{Open: 0, Closed: 1}, c)

	_, c, err = run(file, "--gripper-open", "1", "--gripper-closed", "0")
	require.NoError(t, err)
	require.Equal(t, gripper.Convention{Open: 1, Closed: 0}, c, "both flags win")

	_, c, err = run(file, "--gripper-closed", "-1")
	require.NoError(t, err)
	require.Equal(t, gripper.Convention{Open: 0, Closed: -1}, c, "gripper_open stays the file's")

	_, _, err = run(file, "--gripper-open", "1")
	require.EqualError(t, err, "--gripper-open: parameters gripper_open and gripper_closed are both 1: "+
		"expected two different values, the gripper column's fully open and fully closed")

	_, c, err = run(nil, "--gripper-open", "0")
	require.NoError(t, err)
	require.Equal(t, gripper.Convention{Open: 0, Closed: 1}, c, "no file: the flag on the defaults")
}
