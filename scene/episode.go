package scene

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Config shapes generated episodes. Zero fields take their defaults, except CameraNoise, where
// zero means clean frames; DefaultConfig has every default.
type Config struct {
	Width, Height int     // frame size in pixels; default 64x64, the tiny model's input
	ChunkSize     int     // K, steps in each expert future chunk; default 8
	MaxSteps      int     // a task stops here even if unfinished; default 300
	CameraNoise   float64 // pixel noise standard deviation, 0..255 units; DefaultConfig uses 2
	// Tabletop, when it has blocks, makes every episode a multi-object scene with a chain of
	// instructions; the zero value keeps the single task of Reset.
	Tabletop Tabletop
	// StartSpread, in metres, starts the gripper above a random point within ±StartSpread of the
	// table centre in x and y, instead of above the centre (0). Demonstrations that all start from
	// one pose let a policy that reads the robot state learn the direction from where the gripper
	// already is, without looking for the block; varied starts take that shortcut away. The start
	// is drawn from its own random stream, so a seed's blocks and pads stay where they were.
	StartSpread float64
	// ActionNoise, in metres, is the standard deviation of noise added in x and y to each expert motion
	// that Episode executes, while the step keeps the expert's own action and chunk as its labels
	// (DART). The expert's own path runs exactly over the block from hover down; a learned policy
	// drifts off it and, from its demonstrations alone, never saw how to come back. Perturbed
	// demonstrations wander and show the expert correcting, at every height. Only the way to the block
	// is perturbed, and only motions longer than the expert's final snap, so it still arrives exactly
	// and the grasp's still steps stay still; the noise has its own random stream, the scene stays the
	// seed's.
	ActionNoise float64
	// Expert is the scripted expert the episodes follow and are labelled by (zero: the one every
	// committed dataset and weight was made with).
	Expert ExpertOptions
	// PadRecolour, when set, paints the single task's pad To wherever Reset draws it From (and the
	// next colour that is neither the block's nor From where the block is To). A diagnostic: it tells what a colour does from where
	// things are, since the scene is otherwise the seed's. The committed reference misses 24 of its
	// 54 training-range descents beside a blue pad and 22 of 246 beside the others; with those pads
	// red it completes 262 of the 300 episodes instead of 241 (models/closedloop/README.md, attempt 22).
	PadRecolour Recolour
}

// Recolour maps one colour to another (the zero value: none).
type Recolour struct{ From, To Colour }

// valid reports whether r maps one single-task colour to another.
func (r Recolour) valid() bool {
	single := func(c Colour) bool { return c >= Red && c < Red+singleTaskColours }
	return single(r.From) && single(r.To) && r.From != r.To
}

// ParseRecolour reads "FROM=TO" in colour names (blue=red) among the single task's colours.
func ParseRecolour(text string) (Recolour, error) {
	from, to, ok := strings.Cut(text, "=")
	r := Recolour{From: colourNamed(from), To: colourNamed(to)}
	if !ok || !r.valid() {
		var names []string
		for c := Red; c < Red+singleTaskColours; c++ {
			names = append(names, c.String())
		}
		return Recolour{}, fmt.Errorf("recolour %q: expected FROM=TO, two different colours of %s", text, strings.Join(names, ", "))
	}
	return r, nil
}

// colourNamed is the single-task colour of that name, or 0.
func colourNamed(name string) Colour {
	for c := Red; c < Red+singleTaskColours; c++ {
		if c.String() == name {
			return c
		}
	}
	return 0
}

// DefaultConfig returns the defaults: 64x64 frames, K=8, 300 steps at most, slight noise.
func DefaultConfig() Config {
	return Config{Width: 64, Height: 64, ChunkSize: 8, MaxSteps: 300, CameraNoise: 2}
}

// EnsureDefaults fills zero fields with their defaults (CameraNoise excepted).
func (c *Config) EnsureDefaults() {
	d := DefaultConfig()
	if c.Width == 0 {
		c.Width = d.Width
	}
	if c.Height == 0 {
		c.Height = d.Height
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = d.ChunkSize
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = d.MaxSteps
	}
}

// MaxChunkSize is the longest expert chunk: as many actions as the node's executed_actions admits. A
// longer one is a mistyped number, and each episode step would hold it whole.
const MaxChunkSize = 1024

// MaxCameraHz bounds a camera rate, of sample bags and of the closed-loop simulator alike: above it a
// frame is rendered for every millisecond or less of sim time, a mistyped rate that looks like a hang.
const MaxCameraHz = 1000

// MaxStepLimit bounds the step limit per instruction: 100000 steps are hours of simulated motion (a
// task takes a few hundred), and a policy that never completes would play them all, which looks like
// a hang.
const MaxStepLimit = 100_000

// MaxEpisodes bounds every count of episodes, recorded, trained on or played: a million is weeks of
// closed-loop play on 2 cores, and a larger count is a mistyped number whose seeds alone would take
// gigabytes, or whose bag would fill the disk, long before it finished.
const MaxEpisodes = 1_000_000

// CheckEpisodeCount refuses a count above MaxEpisodes; what names the count (a flag or a field).
func CheckEpisodeCount(what string, n int) error {
	if n > MaxEpisodes {
		return fmt.Errorf("%s (%d): expected at most %d episodes", what, n, MaxEpisodes)
	}
	return nil
}

// CheckSeeds refuses episodes consecutive seeds from first that would pass the largest int64 and
// wrap to negative ones: another set of episodes than the one asked for. what names the seed.
func CheckSeeds(what string, first int64, episodes int) error {
	if episodes > 0 && first > math.MaxInt64-int64(episodes-1) {
		return fmt.Errorf("%s (%d): %d episodes from it would pass the largest seed, %d", what, first, episodes, int64(math.MaxInt64))
	}
	return nil
}

// MinFrameSide and MaxFrameSide bound a frame's width and height, in pixels.
const (
	MinFrameSide = 8
	MaxFrameSide = 4096
)

// Validate lists every field out of range.
func (c Config) Validate() error {
	var problems []error
	if c.Width < MinFrameSide || c.Width > MaxFrameSide {
		problems = append(problems, fmt.Errorf("width (%d) must be in [%d, %d] pixels", c.Width, MinFrameSide, MaxFrameSide))
	}
	if c.Height < MinFrameSide || c.Height > MaxFrameSide {
		problems = append(problems, fmt.Errorf("height (%d) must be in [%d, %d] pixels", c.Height, MinFrameSide, MaxFrameSide))
	}
	if c.ChunkSize < 1 || c.ChunkSize > MaxChunkSize {
		problems = append(problems, fmt.Errorf("chunk size (%d) must be in [1, %d] steps", c.ChunkSize, MaxChunkSize))
	}
	if c.MaxSteps < 1 || c.MaxSteps > MaxStepLimit {
		problems = append(problems, fmt.Errorf("max steps (%d) must be in [1, %d] per instruction", c.MaxSteps, MaxStepLimit))
	}
	if !(c.CameraNoise >= 0 && c.CameraNoise <= 255) { // NaN too
		problems = append(problems, fmt.Errorf("camera noise (%v) must be in [0, 255] pixel units", c.CameraNoise))
	}
	if !ValidActionNoise(c.ActionNoise) {
		problems = append(problems, fmt.Errorf("action noise (%v m) must be in [0, %v] (the expert's largest step)", c.ActionNoise, MaxStep))
	}
	if !ValidStartSpread(c.StartSpread) {
		problems = append(problems, fmt.Errorf("start spread (%v m) must be in [0, %v] (the table's half size)", c.StartSpread, TableHalfSize))
	}
	if r := c.PadRecolour; r != (Recolour{}) {
		if !r.valid() || c.Tabletop.Blocks != 0 {
			problems = append(problems, fmt.Errorf("pad recolour (%s to %s) must map one single-task colour to another, in the single task only", r.From, r.To))
		}
	}
	if c.Tabletop != (Tabletop{}) {
		if err := c.Tabletop.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// Reset returns the start state of the single-task episode with this seed: one block and one
// pad at distinct random places and colours, the gripper open above the table centre.
func Reset(seed int64) State {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ce7e))
	place := func() Vec3 {
		const margin = 0.22 // keep things well inside the table and the camera's view
		return Vec3{X: (rng.Float64()*2 - 1) * margin, Y: (rng.Float64()*2 - 1) * margin}
	}
	object := place()
	goal := place()
	for object.HorizontalTo(goal) < 0.15 {
		goal = place()
	}
	object.Z = BlockHalfSize
	objectColour := Colour(1 + rng.IntN(singleTaskColours))
	goalColour := Colour(1 + rng.IntN(singleTaskColours-1))
	if goalColour >= objectColour {
		goalColour++
	}
	return State{
		EE:      Vec3{Z: StartHeight},
		Gripper: GripperOpen,
		// A cube looks the same turned by 90°.
		Blocks: []Block{{Pos: object, Yaw: (rng.Float64()*2 - 1) * math.Pi / 4, Colour: objectColour}},
		Pads:   []Pad{{Pos: goal, Colour: goalColour}},
		Seed:   seed,
	}
}

var instructionTemplates = []string{
	"grab the %s block, put it on the %s pad",
	"put the %s block on the %s pad",
	"move the %s block onto the %s pad",
	"place the %s block on the %s pad",
}

// Instruction is the language command for the task in force in s. The wording varies with the
// episode seed and the task.
func Instruction(s State) string {
	which := uint64(s.Seed) + uint64(3*s.Task.Block+s.Task.Pad)
	template := instructionTemplates[which%uint64(len(instructionTemplates))]
	return fmt.Sprintf(template, s.Object().Colour, s.Goal().Colour)
}

// ValidActionNoise reports whether v (metres) is an action noise the expert's steps allow: in [0,
// MaxStep].
func ValidActionNoise(v float64) bool { return v >= 0 && v <= MaxStep }

// ValidStartSpread reports whether v (metres) is a start spread the table allows: in [0,
// TableHalfSize]. NaN is not.
func ValidStartSpread(v float64) bool { return v >= 0 && v <= TableHalfSize }

// Start returns the start state and the instructions of the episode with this seed under cfg: the
// single task (Reset) when cfg.Tabletop has no blocks, else a tabletop scene (ResetTabletop) and
// its chain of cfg.Tabletop.Chain tasks. The state's Task is the first of them. The gripper starts
// where cfg.StartSpread puts it.
func Start(seed int64, cfg Config) (State, []Task) {
	var s State
	tasks := []Task{{}}
	if cfg.Tabletop.Blocks == 0 {
		s = Reset(seed)
		if r := cfg.PadRecolour; r.From != 0 && s.Pads[0].Colour == r.From {
			s.Pads[0].Colour = r.To
			for s.Pads[0].Colour == s.Blocks[0].Colour || s.Pads[0].Colour == r.From {
				s.Pads[0].Colour = s.Pads[0].Colour%singleTaskColours + 1
			}
		}
	} else {
		s = ResetTabletop(seed, cfg.Tabletop)
		tasks = ChainTasks(s, max(cfg.Tabletop.Chain, 1))
		s.Task = tasks[0]
	}
	if cfg.StartSpread > 0 {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x57a27))
		s.EE.X = (rng.Float64()*2 - 1) * cfg.StartSpread
		s.EE.Y = (rng.Float64()*2 - 1) * cfg.StartSpread
	}
	return s, tasks
}

// Chunk returns the expert's next k actions from s, rolling the world forward with them: the
// label a chunking policy learns. Its first action is Expert(s).
func Chunk(s State, k int) []Action { return ExpertOptions{}.Chunk(s, k) }

// Chunk is the package's Chunk with the expert o.
func (o ExpertOptions) Chunk(s State, k int) []Action {
	chunk := make([]Action, k)
	for i := range chunk {
		chunk[i], _ = o.Next(s)
		s = Step(s, chunk[i])
	}
	return chunk
}

// EpisodeStep is one step of an expert episode.
type EpisodeStep struct {
	Tick        int
	State       State  // the world when the frame was taken
	Image       Image  // Render(State)
	Instruction string // the task in force
	TaskIndex   int    // which task of the episode's chain, from 0
	Action      Action // Expert(State): what the arm does next
	Chunk       []Action
	Phase       Phase
}

// Episode runs the expert from Start(seed, cfg) through every task of the episode: a task ends when
// the expert is done with it (the Done step is not included) or after cfg.MaxSteps steps, and the
// next instruction follows at once. Same seed and config, same episode.
func Episode(seed int64, cfg Config) ([]EpisodeStep, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scene config: %w", err)
	}
	s, tasks := Start(seed, cfg)
	noise := rand.New(rand.NewPCG(uint64(seed), 0xda27))
	var steps []EpisodeStep
	for i, task := range tasks {
		s.Task = task
		instruction := Instruction(s)
		for range cfg.MaxSteps {
			action, phase := cfg.Expert.Next(s)
			if phase == Done {
				break
			}
			steps = append(steps, EpisodeStep{
				Tick: s.Tick, State: s, Image: Render(s, cfg.Width, cfg.Height, cfg.CameraNoise),
				Instruction: instruction, TaskIndex: i, Action: action, Chunk: cfg.Expert.Chunk(s, cfg.ChunkSize), Phase: phase,
			})
			executed := action
			if cfg.ActionNoise > 0 && !s.Held && !s.Placed() && action.Motion().Norm() > snap {
				executed[0] += noise.NormFloat64() * cfg.ActionNoise
				executed[1] += noise.NormFloat64() * cfg.ActionNoise
			}
			s = Step(s, executed)
		}
	}
	return steps, nil
}
