package scene

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Config shapes generated episodes. Zero fields take their defaults, except CameraNoise, where
// zero means clean frames; DefaultConfig has every default.
type Config struct {
	Width, Height int     // frame size in pixels; default 64x64, the tiny model's input
	ChunkSize     int     // K, steps in each expert future chunk; default 8
	MaxSteps      int     // an episode stops here even if unfinished; default 300
	CameraNoise   float64 // pixel noise standard deviation, 0..255 units; DefaultConfig uses 2
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

// Validate lists every field out of range.
func (c Config) Validate() error {
	var problems []error
	if c.Width < 8 || c.Width > 4096 {
		problems = append(problems, fmt.Errorf("width (%d) must be in [8, 4096] pixels", c.Width))
	}
	if c.Height < 8 || c.Height > 4096 {
		problems = append(problems, fmt.Errorf("height (%d) must be in [8, 4096] pixels", c.Height))
	}
	if c.ChunkSize < 1 {
		problems = append(problems, fmt.Errorf("chunk size (%d) must be >= 1", c.ChunkSize))
	}
	if c.MaxSteps < 1 {
		problems = append(problems, fmt.Errorf("max steps (%d) must be >= 1", c.MaxSteps))
	}
	if c.CameraNoise < 0 || math.IsNaN(c.CameraNoise) {
		problems = append(problems, fmt.Errorf("camera noise (%v) must be >= 0", c.CameraNoise))
	}
	return errors.Join(problems...)
}

// Reset returns the start state of the episode with this seed: block and pad at distinct random
// places and colours, the gripper open above the table centre.
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
	objectColour := Colour(1 + rng.IntN(numColours))
	goalColour := Colour(1 + rng.IntN(numColours-1))
	if goalColour >= objectColour {
		goalColour++
	}
	return State{
		EE:           Vec3{Z: StartHeight},
		Gripper:      GripperOpen,
		Object:       object,
		ObjectYaw:    (rng.Float64()*2 - 1) * math.Pi / 4, // a cube looks the same turned by 90°
		Goal:         goal,
		ObjectColour: objectColour,
		GoalColour:   goalColour,
		Seed:         seed,
	}
}

var instructionTemplates = []string{
	"grab the %s block, put it on the %s pad",
	"put the %s block on the %s pad",
	"move the %s block onto the %s pad",
	"place the %s block on the %s pad",
}

// Instruction is the language command for the episode starting in s.
func Instruction(s State) string {
	template := instructionTemplates[uint64(s.Seed)%uint64(len(instructionTemplates))]
	return fmt.Sprintf(template, s.ObjectColour, s.GoalColour)
}

// Chunk returns the expert's next k actions from s, rolling the world forward with them: the
// label a chunking policy learns. Its first action is Expert(s).
func Chunk(s State, k int) []Action {
	chunk := make([]Action, k)
	for i := range chunk {
		chunk[i], _ = Expert(s)
		s = Step(s, chunk[i])
	}
	return chunk
}

// EpisodeStep is one step of an expert episode.
type EpisodeStep struct {
	Tick        int
	State       State  // the world when the frame was taken
	Image       Image  // Render(State)
	Instruction string // the same for the whole episode
	Action      Action // Expert(State): what the arm does next
	Chunk       []Action
	Phase       Phase
}

// Episode runs the expert from Reset(seed) until the task is done (the Done step is not
// included) or cfg.MaxSteps. Same seed and config, same episode.
func Episode(seed int64, cfg Config) ([]EpisodeStep, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scene config: %w", err)
	}
	s := Reset(seed)
	instruction := Instruction(s)
	var steps []EpisodeStep
	for range cfg.MaxSteps {
		action, phase := Expert(s)
		if phase == Done {
			break
		}
		steps = append(steps, EpisodeStep{
			Tick: s.Tick, State: s, Image: Render(s, cfg.Width, cfg.Height, cfg.CameraNoise),
			Instruction: instruction, Action: action, Chunk: Chunk(s, cfg.ChunkSize), Phase: phase,
		})
		s = Step(s, action)
	}
	return steps, nil
}
