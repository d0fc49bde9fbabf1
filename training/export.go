package training

import (
	"fmt"
	"os"
	"path/filepath"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// SkipModules are the trained parts of a DySL bundle, by dynamic layer.
type SkipModules struct {
	Adapters    map[int]*modelbuild.AdapterWeights
	Controllers map[int]*modelbuild.ControllerWeights
}

// WriteSkipModules writes adapter_XX.onnx and controller_XX.onnx for every dynamic layer of m into the
// bundle directory, in the builder's own graph format (modelbuild.AdapterGraph and ControllerGraph), points m.Files at them, records how they were made in the provenance, writes the
// manifest and validates the bundle. Files of layers that are no longer dynamic are removed.
func WriteSkipModules(dir string, m *bundle.Manifest, a modelbuild.Arch, mods SkipModules, adaptersNote, controllersNote string) error {
	for j, f := range m.Files.Adapters {
		if _, ok := mods.Adapters[j]; !ok {
			_ = os.Remove(filepath.Join(dir, f))
		}
	}
	for j, f := range m.Files.Controllers {
		if _, ok := mods.Controllers[j]; !ok {
			_ = os.Remove(filepath.Join(dir, f))
		}
	}
	m.Files.Adapters, m.Files.Controllers = map[int]string{}, map[int]string{}
	for _, j := range m.DynamicLayers() {
		aw, cw := mods.Adapters[j], mods.Controllers[j]
		if aw == nil || cw == nil {
			return fmt.Errorf("training: dynamic layer %d has no adapter or no controller", j)
		}
		adapterFile, controllerFile := fmt.Sprintf("adapter_%02d.onnx", j), fmt.Sprintf("controller_%02d.onnx", j)
		if _, err := modelbuild.AdapterGraph(a, j, aw).WriteFile(filepath.Join(dir, adapterFile), onnxgraph.WriteOptions{}); err != nil {
			return fmt.Errorf("training: %s: %w", adapterFile, err)
		}
		if _, err := modelbuild.ControllerGraph(a, j, cw).WriteFile(filepath.Join(dir, controllerFile), onnxgraph.WriteOptions{}); err != nil {
			return fmt.Errorf("training: %s: %w", controllerFile, err)
		}
		m.Files.Adapters[j], m.Files.Controllers[j] = adapterFile, controllerFile
	}
	m.Provenance.Adapters, m.Provenance.Controllers = adaptersNote, controllersNote
	m.FLOPs = a.FLOPs()
	if err := bundle.Write(dir, m); err != nil {
		return err
	}
	if _, err := bundle.Load(dir); err != nil {
		return fmt.Errorf("training: the bundle just written does not validate: %w", err)
	}
	return nil
}
