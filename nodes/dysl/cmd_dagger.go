package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/modelbuild"
	"dysl_vla/scene"
	"dysl_vla/skipping"
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

// bcDataFlags are train bc's options for the closed-loop reference: the task set, DAgger states and a
// start checkpoint.
type bcDataFlags struct {
	tasks  string
	chain  int
	states []string
	init   string
}

func (f *bcDataFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.tasks, "tasks", "single", "training episodes: single (the one-block scene), tabletop or chain")
	fs.IntVar(&f.chain, "chain", 5, "instructions per episode with --tasks chain")
	fs.StringSliceVar(&f.states, "dagger-states", nil, "state files of 'dysl train dagger', labelled by the expert and added to the training frames")
	fs.StringVar(&f.init, "init", "", "start from these weights (a fresh schedule; --resume continues a run instead)")
}

// apply sets cfg's tasks and extra frames, and the start weights when --init is given.
func (f *bcDataFlags) apply(cfg *training.BCConfig, start **modelbuild.Weights) error {
	tasks, err := tabletopFor(f.tasks, f.chain)
	if err != nil {
		return err
	}
	cfg.Tasks = tasks
	for _, path := range f.states {
		states, err := readStates(path)
		if err != nil {
			return err
		}
		d, err := training.LabelStates(cfg.Arch, states)
		if err != nil {
			return err
		}
		cfg.Extra = append(cfg.Extra, d)
	}
	if f.init != "" {
		if *start != nil {
			return fmt.Errorf("--init and --resume exclude each other")
		}
		w, _, err := training.LoadCheckpoint(f.init, cfg.Arch)
		if err != nil {
			return err
		}
		*start = w
	}
	return nil
}

func readStates(path string) ([]scene.State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var states []scene.State
	if err := json.Unmarshal(data, &states); err != nil {
		return nil, fmt.Errorf("%s: expected a JSON array of scene states (dysl train dagger --out): %w", path, err)
	}
	return states, nil
}

func newDAggerCmd() *cobra.Command {
	var (
		ef       engineFlags
		data     bcDataFlags
		out      string
		episodes int
		seed     int64
		maxSteps int
	)
	cmd := &cobra.Command{
		Use:   "dagger --model DIR --out STATES.json",
		Short: "Collect the world states a policy visits in the closed-loop simulator, for the expert to label (DAgger)",
		Long: `Runs the bundle's full model in closed loop on training-range episodes (seeds from --seed, apart from
bc's 0..N-1 and the held-out ones) and writes every world state its camera captured as JSON. 'dysl
train bc --dagger-states' renders them and labels each with the scripted expert's chunk from that
state: the policy learns to recover from the states its own mistakes lead to.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ef.model == "" || out == "" {
				return fmt.Errorf("--model and --out are required")
			}
			tasks, err := tabletopFor(data.tasks, data.chain)
			if err != nil {
				return err
			}
			full := skipping.DefaultConfig()
			full.Strategy = skipping.StrategyFull
			e, err := ef.open(full)
			if err != nil {
				return err
			}
			defer e.Close()
			sc := scene.DefaultConfig()
			sc.Tabletop, sc.MaxSteps = tasks, maxSteps
			states, eps, err := closedloop.Visit(closedloop.Config{Engine: e, Skipping: full, Scene: sc}, training.Seeds(seed, episodes))
			if err != nil {
				return err
			}
			completed, tasksTotal := 0, 0
			for _, ep := range eps {
				completed += ep.Completed
				tasksTotal += ep.Tasks
			}
			body, err := json.Marshal(states)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, body, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d states from %d episodes (%d of %d instructions completed by the policy)\n",
				out, len(states), episodes, completed, tasksTotal)
			return nil
		},
	}
	ef.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&data.tasks, "tasks", "tabletop", "episodes: single, tabletop or chain")
	f.IntVar(&data.chain, "chain", 5, "instructions per episode with --tasks chain")
	f.StringVar(&out, "out", "", "JSON file of the visited states (required)")
	f.IntVar(&episodes, "episodes", 20, "episodes to play")
	f.Int64Var(&seed, "seed", 500_000, "seed of the first episode (training range, apart from bc's and the held-out seeds)")
	f.IntVar(&maxSteps, "max-steps", 300, "step limit per instruction")
	return cmd
}
