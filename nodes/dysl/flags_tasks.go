package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/modelbuild"
	"dysl_vla/scene"
	"dysl_vla/training"
)

// tabletopFor names the task sets the tools take: single (the one-block scene), tabletop (several
// blocks and pads, one instruction) and chain (tabletop, chain instructions per episode).
func tabletopFor(tasks string, chain int) (scene.Tabletop, error) {
	switch tasks {
	case "single":
		return scene.Tabletop{}, nil
	case "tabletop":
		return scene.DefaultTabletop(), nil
	case "chain":
		t := scene.ChainTabletop()
		t.Chain = chain
		return t, t.Validate()
	}
	return scene.Tabletop{}, fmt.Errorf("--tasks %q: expected single, tabletop or chain", tasks)
}

// taskFlags choose the episodes a command plays or trains on: the task set, the chain's length and
// changes to the tabletop scene.
type taskFlags struct {
	tasks string
	chain int
	// shape changes fields of the tabletop scene, e.g. "blocks=1,pads=2,colours=6": one factor of the
	// tabletop scene at a time, to see which one a model trained on the one-block scene fails on.
	shape []string
	// set is the FlagSet the flags were registered on, to tell a flag given from its default.
	set *pflag.FlagSet
}

func (f *taskFlags) register(fs *pflag.FlagSet, defaultTasks, usage string) {
	f.set = fs
	fs.StringVar(&f.tasks, "tasks", defaultTasks, usage)
	fs.IntVar(&f.chain, "chain", 5, "instructions per episode with --tasks chain")
	fs.StringSliceVar(&f.shape, "tabletop", nil, "with --tasks tabletop or chain: change the scene, NAME=VALUE of blocks, pads, colours "+
		"(how many colours from red on: 6 are the one-block scene's), light (±share) and noise (0..255 units); defaults blocks=3,pads=4,colours=8,light=0.25,noise=4")
}

// tabletop is the scene the flags choose (the zero Tabletop for the one-block scene).
func (f *taskFlags) tabletop() (scene.Tabletop, error) {
	if f.tasks != "chain" {
		if err := refuseUnused(f.set, "--tasks chain", "chain"); err != nil {
			return scene.Tabletop{}, err
		}
	}
	t, err := tabletopFor(f.tasks, f.chain)
	if err != nil || len(f.shape) == 0 {
		return t, err
	}
	if t.Blocks == 0 {
		return t, fmt.Errorf("--tabletop %s: only with --tasks tabletop or chain (single is the fixed one-block scene)", strings.Join(f.shape, ","))
	}
	seen := map[string]bool{}
	for _, kv := range f.shape {
		name, value, _ := strings.Cut(kv, "=")
		if seen[name] {
			return t, fmt.Errorf("--tabletop %s: %s given twice: which value is meant?", strings.Join(f.shape, ","), name)
		}
		seen[name] = true
		var err error
		switch name {
		case "blocks":
			t.Blocks, err = strconv.Atoi(value)
		case "pads":
			t.Pads, err = strconv.Atoi(value)
		case "colours":
			t.Colours, err = strconv.Atoi(value)
		case "light":
			t.Light, err = strconv.ParseFloat(value, 64)
		case "noise":
			t.Noise, err = strconv.ParseFloat(value, 64)
		default:
			return t, fmt.Errorf("--tabletop %q: expected NAME=VALUE with NAME one of blocks, pads, colours, light, noise", kv)
		}
		if err != nil {
			return t, fmt.Errorf("--tabletop %q: %s wants a number: %w", kv, name, err)
		}
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("--tabletop: %w", err)
	}
	return t, nil
}

// bcDataFlags are train bc's options for the closed-loop reference: the task set, DAgger states and a
// start checkpoint.
type bcDataFlags struct {
	taskFlags
	startSpread float64
	actionNoise float64
	states      []string
	// unlabelled names the action columns the DAgger states' labels leave out of training.
	unlabelled []string
	// graspOnReach trains on the expert variant that closes as soon as a close catches the block.
	graspOnReach bool
	// daggerExpert names the approach of the expert that labels the DAgger states (registerDaggerExpert).
	daggerExpert string
	// dropDescents leaves the DAgger states on the way down onto the block out (closedloop.Descending).
	dropDescents bool
	init         string
	// recolour is --recolour-pads (recolourPads).
	recolour string
	// initPreset is the architecture of init when it is shallower than the trained one (Deepen).
	initPreset string
}

func (f *bcDataFlags) register(fs *pflag.FlagSet) {
	f.taskFlags.register(fs, "single", "training episodes: single (the one-block scene), tabletop or chain")
	fs.Float64Var(&f.startSpread, "start-spread", 0, "start the training episodes' gripper anywhere within this many metres of the table centre in x and y (0: above the centre; held-out episodes always start there)")
	fs.Float64Var(&f.actionNoise, "action-noise", 0, "perturb the training episodes' way to the block by this many metres per step in x and y (DART: the expert's labels show it correcting; 0: none; held-out episodes never)")
	fs.StringSliceVar(&f.states, "dagger-states", nil, "state files of 'dysl train dagger', labelled by the expert and added to the training frames")
	markInput(fs, "dagger-states", inputFile)
	fs.StringSliceVar(&f.unlabelled, "dagger-unlabelled", nil, "action columns (x, y, z, roll, pitch, yaw, gripper) whose labels on the --dagger-states frames are not trained, "+
		"e.g. yaw, which the expert corrects on visited states and a grasp in the scene does not need (attempt 20)")
	registerDaggerExpert(fs, &f.daggerExpert)
	fs.BoolVar(&f.dropDescents, "dagger-drop-descents", false, "leave out the --dagger-states on the way down onto the block (tip below 10 cm, gripper open, block neither held nor placed), "+
		"whose labels ask for sideways corrections under the fingers (attempt 21)")
	fs.BoolVar(&f.graspOnReach, "expert-grasp-on-reach", false, "an experiment: the expert of the episodes and of the DAgger labels closes as soon as a close catches the block, without aligning or settling (scene.ExpertOptions; the committed weights were trained without it)")
	registerRecolourPads(fs, &f.recolour, "the training episodes (not the held-out ones): FROM=TO (e.g. red=blue) paints the single task's pad TO wherever it would be FROM, "+
		"so that a colour the policy fails beside is seen more often (attempt 22)")
	fs.StringVar(&f.init, "init", "", "start from these weights (a fresh schedule; --resume continues a run instead)")
	markInput(fs, "init", inputFile)
	fs.StringVar(&f.initPreset, "init-preset", "", "architecture of --init when it differs from --preset only in fewer layers (spread over the deeper stack, the new ones start as identities) or in lacking the state input, the keypoints, their selector or the relative points (they start at zero: ignored until trained)")
}

// apply sets cfg's tasks and extra frames, and returns the start weights --init gives (nil without it).
func (f *bcDataFlags) apply(cfg *training.BCConfig) (*modelbuild.Weights, error) {
	tasks, err := f.tabletop()
	if err != nil {
		return nil, err
	}
	if !scene.ValidStartSpread(f.startSpread) {
		return nil, fmt.Errorf("--start-spread %v: expected metres in [0, %v] (the table's half size)", f.startSpread, scene.TableHalfSize)
	}
	if !scene.ValidActionNoise(f.actionNoise) {
		return nil, fmt.Errorf("--action-noise %v: expected metres in [0, %v] (the expert's largest step)", f.actionNoise, scene.MaxStep)
	}
	cfg.Tasks, cfg.StartSpread, cfg.ActionNoise = tasks, f.startSpread, f.actionNoise
	if cfg.PadRecolour, err = recolourPads(f.recolour, tasks); err != nil {
		return nil, err
	}
	cfg.Expert = scene.ExpertOptions{GraspOnReach: f.graspOnReach}
	if len(f.unlabelled) > 0 && len(f.states) == 0 {
		return nil, fmt.Errorf("--dagger-unlabelled needs --dagger-states: it leaves columns of their labels out")
	}
	if f.dropDescents && len(f.states) == 0 {
		return nil, fmt.Errorf("--dagger-drop-descents needs --dagger-states: it leaves some of them out")
	}
	var unlabelled []int
	columns := modelbuild.DefaultActionSpec(cfg.Arch.ActionDim).Names
	for _, name := range f.unlabelled {
		c := slices.Index(columns, name)
		if c < 0 {
			return nil, fmt.Errorf("--dagger-unlabelled %q: expected action names of the model: %s", name, strings.Join(columns, ", "))
		}
		unlabelled = append(unlabelled, c)
	}
	expert, err := daggerExpert(f.daggerExpert, cfg.Expert)
	if err != nil {
		return nil, err
	}
	if len(f.states) > 0 {
		states, err := readStateFiles("--dagger-states", f.states, true)
		if err != nil {
			return nil, err
		}
		if f.dropDescents {
			states = slices.DeleteFunc(states, closedloop.Descending)
		}
		d, err := training.LabelStates(cfg.Arch, states, expert)
		if err != nil {
			return nil, err
		}
		for i := range d.Frames {
			d.Frames[i].Unlabelled = unlabelled
		}
		cfg.Extra = append(cfg.Extra, d)
	}
	if f.init == "" {
		return nil, nil
	}
	if f.initPreset == "" {
		w, _, err := training.LoadCheckpoint(f.init, cfg.Arch)
		return w, err
	}
	from, err := modelbuild.LookupPreset(f.initPreset)
	if err != nil {
		return nil, fmt.Errorf("--init-preset: %w", err)
	}
	w, _, err := training.LoadCheckpoint(f.init, from.Arch)
	if err != nil {
		return nil, err
	}
	return modelbuild.Deepen(w, from.Arch, cfg.Arch)
}

// registerDaggerExpert registers --dagger-expert: which approach labels the states a policy visited.
func registerDaggerExpert(fs *pflag.FlagSet, name *string) {
	fs.StringVar(name, "dagger-expert", "hover", "the approach of the expert that labels the DAgger states: hover (the committed expert: up to its hover height, "+
		"then straight down onto the block) or direct (from where the tip is, down a 45-degree cone to the block: scene.ExpertOptions.Direct, attempt 21)")
}

// daggerExpert is base with the approach --dagger-expert names.
func daggerExpert(name string, base scene.ExpertOptions) (scene.ExpertOptions, error) {
	switch name {
	case "hover":
		base.Direct = false
	case "direct":
		base.Direct = true
	default:
		return base, fmt.Errorf("--dagger-expert %q: expected hover or direct", name)
	}
	return base, nil
}

// readStateFiles reads the world states of every 'dysl train dagger' output in paths, given by flag,
// in order. A file without states is refused: what it was named for would run on nothing of it. So,
// when the states are to be trained on (train), is a state of a held-out episode: evaluate's figures
// on those episodes would no longer be held out.
func readStateFiles(flag string, paths []string, train bool) ([]scene.State, error) {
	var all []scene.State
	for _, path := range paths {
		states, err := closedloop.ReadStates(path)
		if err != nil {
			return nil, err
		}
		if len(states) == 0 {
			return nil, fmt.Errorf("%s %s: no states in it: expected the states a policy visited, as 'dysl train dagger --out' writes them", flag, path)
		}
		if i := slices.IndexFunc(states, func(s scene.State) bool { return training.IsHeldOut(s.Seed) }); train && i >= 0 {
			return nil, fmt.Errorf("%s %s: state %d is of held-out episode %d (seeds from %d on, which evaluate plays): "+
				"expected states to train on from training-range episodes ('dysl train dagger --seed' below %d)", flag, path, i, states[i].Seed, training.HeldOutSeedStart, training.HeldOutSeedStart)
		}
		all = append(all, states...)
	}
	return all, nil
}

// registerRecolourPads registers --recolour-pads FROM=TO (scene.Config.PadRecolour) into v; usage
// says which episodes it paints and why.
func registerRecolourPads(fs *pflag.FlagSet, v *string, usage string) {
	fs.StringVar(v, "recolour-pads", "", usage)
}

// recolourPads reads --recolour-pads ("": none), which paints the single task's pads only.
func recolourPads(text string, tasks scene.Tabletop) (scene.Recolour, error) {
	if text == "" {
		return scene.Recolour{}, nil
	}
	r, err := scene.ParseRecolour(text)
	if err != nil {
		return r, fmt.Errorf("--recolour-pads: %w", err)
	}
	if tasks.Blocks != 0 {
		return r, fmt.Errorf("--recolour-pads %s: only with --tasks single (the one-block scene)", text)
	}
	return r, nil
}
