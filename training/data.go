package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"dysl_vla/hostmemory"
	"dysl_vla/modelbuild"
	"dysl_vla/policy/modelinput"
	"dysl_vla/scene"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ActionNormalization is the normalization of the scene's actions: normalized = (action − mean) / std
// per dimension [dx dy dz droll dpitch dyaw gripper], the statistics `dysl model build` writes into every
// manifest, so a bundle built from trained weights denormalizes the chunks exactly as training
// normalized the labels. The scene's expert moves at most 0.02 m and 0.1 rad per step, so normalized
// motions stay within ±2 and the gripper is ±1.
func ActionNormalization() (mean, std []float64) {
	spec := modelbuild.DefaultActionSpec(len(scene.Action{}))
	return spec.Mean, spec.Std
}

// Frame is one training or evaluation example taken from a scene episode.
type Frame struct {
	Episode, Step int
	RGB           []byte    // Height x Width x 3, the camera frame at the model's input size
	Tokens        []int64   // the instruction, byte tokens (+1, zero padded), as the "bytes" tokenizer makes them
	State         []float64 // the robot state when the frame was taken, in robot units; nil when the model reads none
	Chunk         []float32 // the expert's next K actions, normalized, K·A values row-major
	Action        scene.Action
	Phase         scene.Phase
	// Probe is ProbeTargets of the world state the frame shows: the training-only localization target.
	Probe []float32
	// Keypoints is KeypointTargets of that world state, when the model has keypoints.
	Keypoints []float32
	// Selection is SelectionTargets of that world state, when the model has a keypoint selector.
	Selection []float32
	// Critical marks the grasp and release windows: the still steps before the gripper flips, the flip
	// itself, and every step whose expert chunk contains a flip. Errors there are what DySL protects.
	Critical bool
	// TargetDistance is the world state's scene.State.TargetDistance, metres: how close the gripper
	// is, horizontally, to where the task needs precision.
	TargetDistance float64
	// Unlabelled lists action columns whose labels this frame does not train (nil: every column
	// trains): Batch gives them as 0 and LossMask masks the prediction there.
	Unlabelled []int
}

// Dataset is a set of frames from whole episodes, in episode and step order.
type Dataset struct {
	Arch   modelbuild.Arch
	Frames []Frame
}

// GenerateEpisodes runs the scene's expert from each seed and keeps every step as a frame. Frames are
// rendered at the architecture's image size with the scene's default camera noise. The episodes are the
// single task; GenerateSceneEpisodes makes tabletop ones.
func GenerateEpisodes(a modelbuild.Arch, seeds []int64) (*Dataset, error) {
	return GenerateSceneEpisodes(a, seeds, scene.Tabletop{})
}

// GenerateSceneEpisodes is GenerateEpisodes under tasks: tabletop scenes with their chains of
// instructions, or the single task when tasks is the zero Tabletop.
func GenerateSceneEpisodes(a modelbuild.Arch, seeds []int64, tasks scene.Tabletop) (*Dataset, error) {
	return GeneratePerturbedEpisodes(a, seeds, tasks, Perturbations{})
}

// Perturbations take training episodes off the expert's one path, so that its labels show it
// correcting; the zero value leaves them as the expert plays them.
type Perturbations struct {
	StartSpread float64 // the gripper starts anywhere within ± this many metres of the table centre (scene.Config.StartSpread)
	ActionNoise float64 // the expert's way to the block is perturbed by this many metres per step (scene.Config.ActionNoise)
	// Expert is the expert that plays and labels the episodes (scene.Config.Expert): not a perturbation
	// of the path, but a variant of the labels, given with it because it too is a choice of training data.
	Expert scene.ExpertOptions
	// PadRecolour paints one pad colour another (scene.Config.PadRecolour): a colour the policy fails
	// beside, seen more often.
	PadRecolour scene.Recolour
}

// GeneratePerturbedEpisodes is GenerateSceneEpisodes with the episodes perturbed by p.
func GeneratePerturbedEpisodes(a modelbuild.Arch, seeds []int64, tasks scene.Tabletop, p Perturbations) (*Dataset, error) {
	cfg := sceneConfig(a)
	cfg.Tabletop, cfg.StartSpread, cfg.ActionNoise, cfg.Expert, cfg.PadRecolour = tasks, p.StartSpread, p.ActionNoise, p.Expert, p.PadRecolour
	if err := checkActionDim(a); err != nil {
		return nil, err
	}
	// Each episode depends on its seed alone, so they are made on every core and joined in seed order:
	// the dataset is the same whatever the number of cores (300 small_relative episodes: about 30 s
	// before, 13 s after on 2 cores).
	perEpisode := make([][]Frame, len(seeds))
	errs := make([]error, len(seeds))
	play := func(e int) {
		steps, err := scene.Episode(seeds[e], cfg)
		if err != nil {
			errs[e] = err
			return
		}
		for i, s := range steps {
			perEpisode[e] = append(perEpisode[e], newFrame(a, int(seeds[e]), i, s.State, s.Image, s.Instruction, s.Chunk, s.Action, s.Phase))
		}
	}
	if len(seeds) == 0 {
		return &Dataset{Arch: a}, nil
	}
	// The first episode is made alone, to judge by its size whether all of them fit in memory.
	play(0)
	if errs[0] == nil {
		if err := hostmemory.Check(len(seeds), "episodes like the first", frameBytes(perEpisode[0])); err != nil {
			return nil, fmt.Errorf("training: %w: use fewer episodes", err)
		}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(seeds)-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				play(e)
			}
		}()
	}
	for e := 1; e < len(seeds); e++ {
		next <- e
	}
	close(next)
	wg.Wait()
	d := &Dataset{Arch: a}
	for e, frames := range perEpisode {
		if errs[e] != nil {
			return nil, errs[e]
		}
		d.Frames = append(d.Frames, frames...)
	}
	return d, nil
}

// sceneConfig is the scene as the model sees it: its image size and chunk length, default noise.
func sceneConfig(a modelbuild.Arch) scene.Config {
	cfg := scene.DefaultConfig()
	cfg.Width, cfg.Height, cfg.ChunkSize = a.ImageSize, a.ImageSize, a.Chunk
	return cfg
}

// LabelStates turns world states a policy visited into training frames labelled by the expert (DAgger:
// the expert's chunk from each state, rendered as the camera saw it). Frames of one episode share its
// seed as their Episode.
func LabelStates(a modelbuild.Arch, states []scene.State, expert scene.ExpertOptions) (*Dataset, error) {
	if err := checkActionDim(a); err != nil {
		return nil, err
	}
	cfg := sceneConfig(a)
	d := &Dataset{Arch: a}
	for i, s := range states {
		action, phase := expert.Next(s)
		d.Frames = append(d.Frames, newFrame(a, int(s.Seed), i, s, scene.Render(s, cfg.Width, cfg.Height, cfg.CameraNoise),
			scene.Instruction(s), expert.Chunk(s, a.Chunk), action, phase))
		// Each state becomes a rendered frame many times its size: judge by the first whether all fit.
		if i == 0 {
			if err := hostmemory.Check(len(states), "visited states like the first", frameBytes(d.Frames)); err != nil {
				return nil, fmt.Errorf("training: %w: label fewer states", err)
			}
		}
	}
	return d, nil
}

func checkActionDim(a modelbuild.Arch) error {
	if a.ActionDim != len(scene.Action{}) {
		return fmt.Errorf("training: the scene's actions have %d values, the model %d", len(scene.Action{}), a.ActionDim)
	}
	return nil
}

func newFrame(a modelbuild.Arch, episode, step int, state scene.State, img scene.Image, instruction string, chunk []scene.Action, action scene.Action, phase scene.Phase) Frame {
	f := Frame{
		Episode: episode, Step: step, RGB: img.RGB, Tokens: Tokenize(instruction, a.InstructionTokens),
		State: robotState(a, state),
		Chunk: make([]float32, 0, a.Chunk*a.ActionDim), Action: action, Phase: phase, Probe: ProbeTargets(state),
		TargetDistance: state.TargetDistance(),
	}
	if a.Keypoints > 0 {
		f.Keypoints = KeypointTargets(a, state)
	}
	if a.SelectorWindow > 0 {
		f.Selection = SelectionTargets(a, state)
	}
	actionMean, actionStd := ActionNormalization()
	flips := false
	for k, act := range chunk {
		for c, v := range act {
			f.Chunk = append(f.Chunk, float32((v-actionMean[c])/actionStd[c]))
		}
		if k > 0 && act[6] != chunk[k-1][6] {
			flips = true
		}
	}
	f.Critical = flips || phase == scene.Stop || phase == scene.Grasp || phase == scene.Release
	return f
}

// Tokenize applies the "bytes" tokenizer every modelbuild bundle declares, as the engine does
// (modelinput.Tokenize): UTF-8 bytes + 1, truncated or zero-padded to n tokens.
func Tokenize(text string, n int) []int64 {
	tokens := make([]int64, n)
	if _, err := modelinput.Tokenize("bytes", text, tokens); err != nil {
		panic(err) // "bytes" is always supported
	}
	return tokens
}

// NormalizedImage converts an rgb8 frame at the model's size into the model's input [3,S,S] through
// the engine's own converter (modelinput), so that training sees bit for bit what the robot's engine
// will feed the model.
func NormalizedImage(rgb []byte, size int) []float32 {
	img := modelinput.Image{Width: size, Height: size, Encoding: "rgb8", Step: 3 * size, Data: rgb}
	out, err := modelinput.ImageInput(img, modelbuild.Arch{ImageSize: size}.ImageSpec())
	if err != nil {
		// Frames here are rendered by package scene at the model's size: a mismatch is a bug, not input.
		panic(fmt.Sprintf("training: frame of %d bytes is not a %dx%d rgb8 image: %v", len(rgb), size, size, err))
	}
	return out
}

// Observation is the frame as modelbuild's reference model takes it.
func (f Frame) Observation(a modelbuild.Arch) modelbuild.Observation {
	return modelbuild.Observation{Image: NormalizedImage(f.RGB, a.ImageSize), Tokens: f.Tokens, State: NormalizedState(f.State)}
}

// robotState is what a model of architecture a reads of s: the scene's robot state, or nil.
func robotState(a modelbuild.Arch, s scene.State) []float64 {
	if a.StateDim == 0 {
		return nil
	}
	return s.RobotState()
}

// NormalizedState converts a robot state in robot units into the model's input through the engine's
// own normalizer (modelinput), with the statistics `dysl model build` writes for the scene's state.
func NormalizedState(values []float64) []float32 {
	if values == nil {
		return nil
	}
	out, err := modelinput.StateInput(values, modelbuild.SceneStateSpec())
	if err != nil {
		// States here come from package scene, finite and of its length: a failure is a bug, not input.
		panic(fmt.Sprintf("training: robot state %v: %v", values, err))
	}
	return out
}

// Batch stacks frames into the model's graph inputs (images [B,3,S,S], tokens [B,Ti] and, when the
// model reads the robot state, state [B,StateDim]: what Model.inputsFrom reads) and their labels,
// chunks [B,K,A].
func (d *Dataset) Batch(indices []int) (inputs []*tensors.Tensor, chunks *tensors.Tensor) {
	a := d.Arch
	S, n := a.ImageSize, len(indices)
	imageData := make([]float32, 0, n*3*S*S)
	tokenData := make([]int64, 0, n*a.InstructionTokens)
	stateData := make([]float32, 0, n*a.StateDim)
	chunkData := make([]float32, 0, n*a.Chunk*a.ActionDim)
	for _, i := range indices {
		f := d.Frames[i]
		imageData = append(imageData, NormalizedImage(f.RGB, S)...)
		tokenData = append(tokenData, f.Tokens...)
		stateData = append(stateData, NormalizedState(f.State)...)
		chunkData = append(chunkData, f.Chunk...)
		for _, c := range f.Unlabelled {
			for k, row := 0, chunkData[len(chunkData)-len(f.Chunk):]; k < a.Chunk; k++ {
				row[k*a.ActionDim+c] = 0
			}
		}
	}
	inputs = []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(imageData, n, 3, S, S),
		tensors.FromFlatDataAndDimensions(tokenData, n, a.InstructionTokens),
	}
	if a.StateDim > 0 {
		inputs = append(inputs, tensors.FromFlatDataAndDimensions(stateData, n, a.StateDim))
	}
	return inputs, tensors.FromFlatDataAndDimensions(chunkData, n, a.Chunk, a.ActionDim)
}

// HasUnlabelled reports whether some frame leaves action columns out of training (Frame.Unlabelled).
func (d *Dataset) HasUnlabelled() bool {
	return slices.ContainsFunc(d.Frames, func(f Frame) bool { return len(f.Unlabelled) > 0 })
}

// LossMask is the [n, Chunk, ActionDim] mask of the frames at indices: 0 in their unlabelled columns
// (Frame.Unlabelled), 1 elsewhere. Training multiplies the predictions by it, so that with Batch's
// zeroed labels those columns add nothing to the loss.
func (d *Dataset) LossMask(indices []int) *tensors.Tensor {
	a := d.Arch
	row := a.Chunk * a.ActionDim
	mask := make([]float32, len(indices)*row)
	for i, frame := range indices {
		m := mask[i*row : (i+1)*row]
		for j := range m {
			m[j] = 1
		}
		for _, c := range d.Frames[frame].Unlabelled {
			for k := 0; k < a.Chunk; k++ {
				m[k*a.ActionDim+c] = 0
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(mask, len(indices), a.Chunk, a.ActionDim)
}

// execArgs turns tensors into the arguments of a GoMLX Exec.
func execArgs(ts ...*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// evalBatch is how many frames the evaluation graphs (predictions, sums, probe errors) take at once.
const evalBatch = 64

// inEvalBatches calls fn on consecutive slices of indices, evalBatch at a time, and stops at its first
// error.
func inEvalBatches(indices []int, fn func(part []int) error) error {
	for lo := 0; lo < len(indices); lo += evalBatch {
		if err := fn(indices[lo:min(lo+evalBatch, len(indices))]); err != nil {
			return err
		}
	}
	return nil
}

// SampleIndices draws n frame indices uniformly with replacement.
func (d *Dataset) SampleIndices(r *rand.Rand, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = r.IntN(len(d.Frames))
	}
	return out
}

// MaxBatch bounds the frames of a training step: a larger batch is a mistyped number, whose tensors
// would not fit before the first step.
const MaxBatch = 65536

// checkBatch refuses a batch above MaxBatch.
func checkBatch(batch int) error {
	if batch > MaxBatch {
		return fmt.Errorf("training: batch (%d): expected at most %d frames", batch, MaxBatch)
	}
	return nil
}

// Seeds returns count consecutive episode seeds from first. Training and held-out evaluation use
// disjoint ranges (TrainSeeds, HeldOutSeeds).
func Seeds(first int64, count int) []int64 {
	out := make([]int64, count)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

// Episode seed ranges: training episodes start at 0; held-out evaluation episodes start far away.
const (
	TrainSeedStart   = 0
	HeldOutSeedStart = 1_000_000
)

// IsHeldOut reports whether seed is a held-out episode's: one the evaluations play (from
// HeldOutSeedStart on) and no training may see. Playing them for a diagnostic is fine ('dysl train
// dagger --seed 1000000' measures a policy on them); training on what was drawn from them is not.
func IsHeldOut(seed int64) bool { return seed >= HeldOutSeedStart }

// HeldOutSeeds names the episodes of seeds first..last for a report: "held-out seeds A..B", or, when
// any lies below HeldOutSeedStart (a --seed given by hand), says that they are not held out: figures
// on episodes a model may have trained on must not pass for held-out ones.
func HeldOutSeeds(first, last int64) string {
	if IsHeldOut(min(first, last)) {
		return fmt.Sprintf("held-out seeds %d..%d", first, last)
	}
	return fmt.Sprintf("seeds %d..%d, NOT held out (training draws its episodes from seeds below %d)", first, last, HeldOutSeedStart)
}

// ActionStatistics are the per-dimension mean and standard deviation of the expert's actions over every
// step of every chunk of d, in physical units (metres, radians, gripper ±1): what the data would
// normalize with, next to the fixed normalization that bundles declare (ActionNormalization).
func ActionStatistics(d *Dataset) (mean, std []float64) {
	actionMean, actionStd := ActionNormalization()
	A := len(actionStd)
	sum, sumSquares := make([]float64, A), make([]float64, A)
	n := 0
	for _, f := range d.Frames {
		for i, v := range f.Chunk {
			c := i % A
			x := float64(v)*actionStd[c] + actionMean[c]
			sum[c] += x
			sumSquares[c] += x * x
			if c == 0 {
				n++
			}
		}
	}
	mean, std = make([]float64, A), make([]float64, A)
	for c := range mean {
		mean[c] = sum[c] / float64(max(1, n))
		std[c] = math.Sqrt(max(0, sumSquares[c]/float64(max(1, n))-mean[c]*mean[c]))
	}
	return mean, std
}
