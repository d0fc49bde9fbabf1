package closedloop

import (
	"encoding/json"
	"fmt"
	"os"

	"dysl_vla/scene"
)

// The states a policy visits (Visit) reach the expert that labels them (training.LabelStates, behaviour
// cloning's DAgger frames) through a file: a JSON array of scene states.

// Visited is what CollectStates played and wrote.
type Visited struct {
	// States written; Episodes played.
	States, Episodes int
	// Completed of Tasks instructions were completed by the policy, summed over the episodes.
	Completed, Tasks int
	// MissCm is the median, over the instructions played, of the closest the gripper tip came to the
	// named block, centimetres (Row.ApproachMissCm); GapCm the median horizontal distance between them
	// when each instruction was given (Row.ApproachGapCm).
	// HeadwayCm is the median of how much of that distance the first HeadwaySteps steps closed.
	MissCm, GapCm, HeadwayCm float64
	// Legs sums the legs of pick-and-place attempted and achieved over the episodes.
	Legs Legs
}

// CollectStates plays the seeds with cfg's policy (Visit) and writes every world state its camera
// captured to path, as ReadStates reads them.
func CollectStates(cfg Config, seeds []int64, path string) (Visited, error) {
	states, episodes, err := Visit(cfg, seeds)
	if err != nil {
		return Visited{}, err
	}
	v := Visited{States: len(states), Episodes: len(episodes)}
	var nearest, gap, headway []float64
	for _, ep := range episodes {
		v.Completed += ep.Completed
		v.Tasks += ep.Tasks
		nearest, gap, headway = append(nearest, ep.Nearest...), append(gap, ep.Gap...), append(headway, ep.Headway...)
		v.Legs.add(ep.Legs)
	}
	v.MissCm, v.GapCm, v.HeadwayCm = 100*median(nearest), 100*median(gap), 100*median(headway)
	return v, WriteStates(path, states)
}

// WriteStates writes states to path as a JSON array.
func WriteStates(path string, states []scene.State) error {
	body, err := json.Marshal(states)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

// ReadStates reads the states WriteStates wrote.
func ReadStates(path string) ([]scene.State, error) {
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
