package training

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
)

// DistillCheckpointFile is the file in a bundle directory that says a distillation stopped part-way:
// the adapters and controllers in the bundle are that run's, at Progress.
const DistillCheckpointFile = "distill_checkpoint.json"

// DistillCheckpoint is what a resumed distillation needs besides the bundle's adapters and controllers:
// how far the run got and the settings that decide its batches and layer draws, which a resumed run
// must repeat.
type DistillCheckpoint struct {
	Progress     DistillProgress `json:"progress"`
	Seed         int64           `json:"seed"`
	Episodes     int             `json:"episodes"`
	Stage1Steps  int             `json:"stage1_steps"`
	Stage2Steps  int             `json:"stage2_steps"`
	Batch        int             `json:"batch"`
	LearningRate float64         `json:"learning_rate"`
	Lambda       float64         `json:"lambda"`
	Stage2Fit    float64         `json:"stage2_fit,omitempty"`
	Visited      int             `json:"visited_states,omitempty"`
	NearWeight   float64         `json:"near_target_weight,omitempty"`
	NearRadius   float64         `json:"near_target_radius,omitempty"`
	// Tasks are the scenes of the training episodes; StaticLayers the bundle's when the run began, so
	// that a recalibrated bundle is not resumed onto.
	Tasks        scene.Tabletop `json:"tasks"`
	StaticLayers []int          `json:"static_layers"`
}

func checkpointOf(cfg DistillConfig, static []int, p DistillProgress) DistillCheckpoint {
	if cfg.NearWeight == 0 {
		cfg.NearRadius = 0 // the radius means nothing then: a checkpoint without the weighting names none
	}
	return DistillCheckpoint{Progress: p, Seed: cfg.Seed, Episodes: cfg.Episodes, Stage1Steps: cfg.Stage1Steps,
		Stage2Steps: cfg.Stage2Steps, Batch: cfg.Batch, LearningRate: cfg.LearningRate, Lambda: cfg.Lambda, Stage2Fit: cfg.Stage2Fit,
		Visited: len(cfg.Visited), NearWeight: cfg.NearWeight, NearRadius: cfg.NearRadius, Tasks: cfg.Tasks, StaticLayers: static}
}

// differences names the settings in which a checkpoint and a run differ, with both values, as
// "lambda (0.2 in the checkpoint, 0.3 here)"; none when they agree.
func (c DistillCheckpoint) differences(run DistillCheckpoint) []string {
	var ours, theirs map[string]any
	for _, x := range []struct {
		v   DistillCheckpoint
		out *map[string]any
	}{{c, &ours}, {run, &theirs}} {
		data, err := json.Marshal(x.v)
		if err == nil {
			err = json.Unmarshal(data, x.out)
		}
		if err != nil {
			return []string{err.Error()}
		}
	}
	var diffs []string
	for _, key := range slices.Sorted(maps.Keys(theirs)) {
		a, _ := json.Marshal(ours[key])
		b, _ := json.Marshal(theirs[key])
		if key != "progress" && !bytes.Equal(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s (%s in the checkpoint, %s here)", key, a, b))
		}
	}
	return diffs
}

// WriteDistillCheckpoint writes the model's adapters and controllers into the bundle and
// DistillCheckpointFile next to them, in one step (bundle.Replace): a run stopped while writing a
// checkpoint leaves the one before, whose adapters and step count agree.
func WriteDistillCheckpoint(dir string, manifest *bundle.Manifest, m *Model, cfg DistillConfig, p DistillProgress) error {
	mods, err := m.SkipModules(manifest.DynamicLayers())
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(checkpointOf(cfg, manifest.StaticLayers, p), "", "  ")
	if err != nil {
		return err
	}
	note := fmt.Sprintf("distillation checkpoint at stage %d step %d (dysl distill --resume continues it)", p.Stage, p.Step)
	return bundle.Replace(dir, func(staging string) error {
		if err := writeSkipModules(staging, manifest, m.Arch, mods, note, note); err != nil {
			return err
		}
		return renameio.WriteFile(filepath.Join(staging, DistillCheckpointFile), append(data, '\n'), 0o644)
	})
}

// ResumeDistill loads a bundle's checkpoint into m (AddSkipModules first) and returns cfg set to
// continue it. The checkpoint's settings must equal cfg's: they decide which batches the run draws.
func ResumeDistill(dir string, manifest *bundle.Manifest, m *Model, cfg DistillConfig) (DistillConfig, error) {
	data, err := os.ReadFile(filepath.Join(dir, DistillCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return cfg, fmt.Errorf("training: %s has no %s: no distillation to resume", dir, DistillCheckpointFile)
	}
	if err != nil {
		return cfg, err
	}
	var c DistillCheckpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return cfg, fmt.Errorf("training: %s: %w", DistillCheckpointFile, err)
	}
	if diffs := c.differences(checkpointOf(cfg, manifest.StaticLayers, c.Progress)); len(diffs) > 0 {
		return cfg, fmt.Errorf("training: the checkpoint in %s was made with other settings: it differs in %s; run with the checkpoint's, or without --resume to start afresh",
			dir, strings.Join(diffs, ", "))
	}
	mods, err := ReadSkipModules(dir, manifest, m.Arch)
	if err != nil {
		return cfg, err
	}
	if err := m.SetSkipModules(mods); err != nil {
		return cfg, err
	}
	cfg.Resume = c.Progress
	return cfg, nil
}

// FinishDistill writes the distilled adapters and controllers into the bundle with their provenance
// notes and removes its checkpoint, in one step (bundle.Replace).
func FinishDistill(dir string, manifest *bundle.Manifest, a modelbuild.Arch, mods SkipModules, adaptersNote, controllersNote string) error {
	return bundle.Replace(dir, func(staging string) error {
		if err := writeSkipModules(staging, manifest, a, mods, adaptersNote, controllersNote); err != nil {
			return err
		}
		return removeDistillCheckpoint(staging)
	})
}

// removeDistillCheckpoint removes the bundle's distillation checkpoint, if any: its adapters and
// controllers were just replaced, and there is nothing left to resume.
func removeDistillCheckpoint(dir string) error {
	err := os.Remove(filepath.Join(dir, DistillCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
