package training

import (
	"slices"
	"strings"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"

	"github.com/stretchr/testify/require"
)

// TestActionNormalizationMatchesBuiltManifests: a bundle built from trained weights denormalizes with
// its manifest's statistics, so they must be the ones training normalized with.
func TestActionNormalizationMatchesBuiltManifests(t *testing.T) {
	res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: t.TempDir(), Seed: 1})
	require.NoError(t, err)
	mean, std := ActionNormalization()
	require.Equal(t, mean, res.Manifest.Action.Mean)
	require.Equal(t, std, res.Manifest.Action.Std)
	// A one-pixel frame is its own median: it is balanced to the manifest's balance, then normalized
	// as the manifest's image statistics say.
	img := NormalizedImage([]byte{128, 128, 128}, 1)
	for c, v := range img {
		im := res.Manifest.Image
		require.InDelta(t, (im.Balance[c]-im.Mean[c])/im.Std[c], float64(v), 1e-6)
	}
}

func TestGeneratedFramesMarkGraspAndRelease(t *testing.T) {
	a := tinyPreset()
	d, err := GenerateEpisodes(a, Seeds(0, 1))
	require.NoError(t, err)
	critical := map[scene.Phase]int{}
	for _, f := range d.Frames {
		require.Len(t, f.Chunk, a.Chunk*a.ActionDim)
		require.Len(t, f.RGB, 3*a.ImageSize*a.ImageSize)
		if f.Critical {
			critical[f.Phase]++
		}
	}
	require.Positive(t, critical[scene.Grasp])
	require.Positive(t, critical[scene.Release])
	require.False(t, d.Frames[0].Critical, "the first approach step is free-space motion")
	n := 0
	for _, f := range d.Frames {
		if f.Critical {
			n++
		}
	}
	require.Less(t, n, len(d.Frames)/4, "grasp and release windows are a small part of an episode")
}

// TestActionStatisticsOfTheScene records the scale of the expert's actions: motions well inside the
// normalization's ±2 (std about half of the normalization's for x and y), roll and pitch always zero, yaw mostly
// zero, the gripper ±1.
func TestActionStatisticsOfTheScene(t *testing.T) {
	d, err := GenerateEpisodes(tinyPreset(), Seeds(0, 4))
	require.NoError(t, err)
	mean, std := ActionStatistics(d)
	_, normalizedWith := ActionNormalization()
	for c := 0; c < 3; c++ {
		require.InDelta(t, 0, mean[c], 0.002, "dimension %d", c)
		require.Greater(t, std[c], 0.002)
		require.Less(t, std[c], normalizedWith[c])
	}
	require.Zero(t, std[3])
	require.Zero(t, std[4])
	require.Less(t, std[5], normalizedWith[5])
	require.InDelta(t, 1, std[6], 0.05)
}

// Labelling renders every state: a states file whose frames cannot fit in memory is refused after the
// first, with the size it needs. (A 2048-pixel camera makes 100,000 states need over a terabyte while
// the slice of states stays small; only the first is ever read.)
func TestLabellingBeyondMemoryIsRefused(t *testing.T) {
	a := tinyPreset()
	a.ImageSize = 2048
	states := make([]scene.State, 100_000)
	states[0] = scene.Reset(3)
	_, err := LabelStates(a, states, scene.ExpertOptions{})
	require.ErrorContains(t, err, "training: 100000 visited states like the first need about ")
	require.ErrorContains(t, err, ": label fewer states")
}

// DAgger's frames: a state the expert never visited (here, its own episode's states with the gripper
// moved aside) is rendered as the camera sees it and labelled with the expert's chunk from there; on
// the expert's own states the labels are the recorded episode's.
func TestLabelStatesIsTheExpertFromEachState(t *testing.T) {
	a := tinyPreset()
	tasks := scene.DefaultTabletop()
	recorded, err := GenerateSceneEpisodes(a, Seeds(3, 1), tasks)
	require.NoError(t, err)
	cfg := scene.DefaultConfig()
	cfg.Width, cfg.Height, cfg.ChunkSize, cfg.Tabletop = a.ImageSize, a.ImageSize, a.Chunk, tasks
	steps, err := scene.Episode(3, cfg)
	require.NoError(t, err)
	var states []scene.State
	for _, st := range steps[:5] {
		states = append(states, st.State)
	}
	labelled, err := LabelStates(a, states, scene.ExpertOptions{})
	require.NoError(t, err)
	for i := range states {
		require.Equal(t, recorded.Frames[i].Chunk, labelled.Frames[i].Chunk)
		require.Equal(t, recorded.Frames[i].RGB, labelled.Frames[i].RGB)
		require.Equal(t, recorded.Frames[i].Tokens, labelled.Frames[i].Tokens)
	}
	off := states[0]
	off.EE = scene.Vec3{X: 0.2, Y: -0.2, Z: 0.1}
	d, err := LabelStates(a, []scene.State{off}, scene.ExpertOptions{})
	require.NoError(t, err)
	want := scene.Chunk(off, a.Chunk)
	_, std := ActionNormalization()
	require.InDelta(t, want[0][0]/std[0], float64(d.Frames[0].Chunk[0]), 1e-5)
	require.NotEqual(t, recorded.Frames[0].Chunk, d.Frames[0].Chunk)
}

// The expert variant reaches both the episodes and the DAgger labels: in grasp reach, with the gripper
// open, its label closes at once where the committed expert's does not.
func TestEpisodesAndLabelsFollowTheExpertOptions(t *testing.T) {
	a := tinyPreset()
	grasp := scene.ExpertOptions{GraspOnReach: true}
	s := scene.Reset(3)
	b := s.Object()
	s.EE = scene.Vec3{X: b.Pos.X + 0.008, Y: b.Pos.Y, Z: scene.GraspHeight + 0.005}
	committed, err := LabelStates(a, []scene.State{s}, scene.ExpertOptions{})
	require.NoError(t, err)
	variant, err := LabelStates(a, []scene.State{s}, grasp)
	require.NoError(t, err)
	gripper := a.ActionDim - 1
	require.Less(t, committed.Frames[0].Chunk[gripper], float32(0), "the committed expert aligns with the gripper open")
	require.Greater(t, variant.Frames[0].Chunk[gripper], float32(0), "the variant closes at once")

	plain, err := GenerateSceneEpisodes(a, Seeds(3, 1), scene.Tabletop{})
	require.NoError(t, err)
	other, err := GeneratePerturbedEpisodes(a, Seeds(3, 1), scene.Tabletop{}, Perturbations{Expert: grasp})
	require.NoError(t, err)
	require.Less(t, len(other.Frames), len(plain.Frames), "no settle wait before the grasp: a shorter episode")
}

// Spread starts: the same seeds' scenes with the gripper elsewhere, so the first frames' labels and
// probe targets differ from the centred episodes' and point from the new start to the block.
func TestSpreadEpisodesStartTheGripperElsewhere(t *testing.T) {
	a := tinyPreset()
	centred, err := GenerateSceneEpisodes(a, Seeds(3, 2), scene.Tabletop{})
	require.NoError(t, err)
	spread, err := GeneratePerturbedEpisodes(a, Seeds(3, 2), scene.Tabletop{}, Perturbations{StartSpread: 0.15})
	require.NoError(t, err)
	first := func(d *Dataset, episode int) Frame {
		for _, f := range d.Frames {
			if f.Episode == episode {
				return f
			}
		}
		t.Fatalf("no frame of episode %d", episode)
		return Frame{}
	}
	for _, ep := range []int{3, 4} {
		c, s := first(centred, ep), first(spread, ep)
		require.Equal(t, c.Probe[3:7], s.Probe[3:7], "episode %d: block and pad where the seed put them", ep)
		require.NotEqual(t, c.Probe[:2], s.Probe[:2], "episode %d: the gripper starts elsewhere", ep)
		require.NotEqual(t, c.Chunk, s.Chunk, "episode %d: the first chunk heads for the block from the new start", ep)
	}
	_, err = GeneratePerturbedEpisodes(a, Seeds(3, 1), scene.Tabletop{}, Perturbations{StartSpread: -1})
	require.ErrorContains(t, err, "start spread (-1 m) must be in [0, 0.3]")
}

// Episodes are made on several cores; the dataset must still be each seed's episode in seed order.
func TestGeneratedEpisodesKeepSeedOrder(t *testing.T) {
	a := tinyArch()
	together, err := GenerateEpisodes(a, []int64{3, 1, 2})
	require.NoError(t, err)
	var want []Frame
	for _, seed := range []int64{3, 1, 2} {
		one, err := GenerateEpisodes(a, []int64{seed})
		require.NoError(t, err)
		want = append(want, one.Frames...)
	}
	require.Equal(t, want, together.Frames, "episodes generated together must be the same seeds' episodes one by one, in order")
}

// A pad recolour reaches the training episodes: each one's instruction is the recoloured scene's, and
// the seeds whose pad it painted read differently from the same seeds without it.
func TestPerturbedEpisodesRecolourThePads(t *testing.T) {
	a := tinyArch()
	seeds := Seeds(TrainSeedStart, 24)
	recolour := scene.Recolour{From: scene.Blue, To: scene.Red}
	plain, err := GeneratePerturbedEpisodes(a, seeds, scene.Tabletop{}, Perturbations{})
	require.NoError(t, err)
	painted, err := GeneratePerturbedEpisodes(a, seeds, scene.Tabletop{}, Perturbations{PadRecolour: recolour})
	require.NoError(t, err)
	first := func(d *Dataset) map[int][]int64 {
		tokens := map[int][]int64{}
		for _, f := range d.Frames {
			if _, ok := tokens[f.Episode]; !ok {
				tokens[f.Episode] = f.Tokens
			}
		}
		return tokens
	}
	plainTokens, paintedTokens := first(plain), first(painted)
	cfg := scene.DefaultConfig()
	cfg.PadRecolour = recolour
	changed := 0
	for _, seed := range seeds {
		s, _ := scene.Start(seed, cfg)
		require.Equal(t, Tokenize(scene.Instruction(s), a.InstructionTokens), paintedTokens[int(seed)], "seed %d", seed)
		if !slices.Equal(plainTokens[int(seed)], paintedTokens[int(seed)]) {
			changed++
		}
	}
	require.Positive(t, changed, "some of these seeds draw a blue pad")
}

// A report names its episodes held out only when every seed is in the held-out range.
func TestHeldOutSeedsSaysWhenTheyAreNot(t *testing.T) {
	require.Equal(t, "held-out seeds 1000000..1000019", HeldOutSeeds(HeldOutSeedStart, HeldOutSeedStart+19))
	require.Equal(t, "seeds 999990..1000009, NOT held out (training draws its episodes from seeds below 1000000)",
		HeldOutSeeds(HeldOutSeedStart-10, HeldOutSeedStart+9))
	require.Contains(t, HeldOutSeeds(-1, 0), "NOT held out")
}

// IsHeldOut is the line HeldOutSeeds draws in its reports.
func TestIsHeldOutIsTheReportsDefinition(t *testing.T) {
	for _, seed := range []int64{0, HeldOutSeedStart - 1, HeldOutSeedStart, HeldOutSeedStart + 1} {
		require.Equal(t, seed >= HeldOutSeedStart, IsHeldOut(seed), "%d", seed)
		require.Equal(t, IsHeldOut(seed), !strings.Contains(HeldOutSeeds(seed, seed), "NOT held out"), "%d", seed)
	}
}
