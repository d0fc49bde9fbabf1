package training

import (
	"fmt"
	"path/filepath"
	"strings"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/onnx-gomlx/onnx"
)

// SkipModules are the trained parts of a DySL bundle, by dynamic layer.
type SkipModules struct {
	Adapters    map[int]*modelbuild.AdapterWeights
	Controllers map[int]*modelbuild.ControllerWeights
}

// WriteSkipModules writes adapter_XX.onnx and controller_XX.onnx for every dynamic layer of m into the
// bundle directory, in the builder's own graph format (modelbuild.AdapterGraph and ControllerGraph),
// points m.Files at them, records how they were made in the provenance and writes the manifest. Files
// of layers that are no longer dynamic are removed. The bundle changes as one step, once the changed
// bundle validates (bundle.Replace).
func WriteSkipModules(dir string, m *bundle.Manifest, a modelbuild.Arch, mods SkipModules, adaptersNote, controllersNote string) error {
	return bundle.Replace(dir, func(staging string) error {
		return writeSkipModules(staging, m, a, mods, adaptersNote, controllersNote)
	})
}

// writeSkipModules is WriteSkipModules in a staging directory of bundle.Replace.
func writeSkipModules(dir string, m *bundle.Manifest, a modelbuild.Arch, mods SkipModules, adaptersNote, controllersNote string) error {
	old := *m // its Files keep the old tables: new ones are made below
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
	return bundle.RemoveStaleGraphs(dir, &old, m)
}

// ReadSkipModules reads back the adapters and controllers of the bundle's dynamic layers from their
// ONNX files (the initializers AdapterGraph and ControllerGraph name), e.g. to start distillation
// from the closed-form adapters `dysl model build` fitted.
func ReadSkipModules(dir string, m *bundle.Manifest, a modelbuild.Arch) (SkipModules, error) {
	mods := SkipModules{Adapters: map[int]*modelbuild.AdapterWeights{}, Controllers: map[int]*modelbuild.ControllerWeights{}}
	for _, j := range m.DynamicLayers() {
		adapter, err := readInitializers(dir, m.Files.Adapters[j])
		if err != nil {
			return mods, err
		}
		controller, err := readInitializers(dir, m.Files.Controllers[j])
		if err != nil {
			return mods, err
		}
		p, q := fmt.Sprintf("adapters.%d.", j), fmt.Sprintf("controllers.%d.", j)
		D, r, C := a.Hidden, a.AdapterRank, a.ControllerHidden
		aw := &modelbuild.AdapterWeights{Norm: adapter[p+"norm.weight"], Down: adapter[p+"down.weight"], Up: adapter[p+"up.weight"], Bias: adapter[p+"up.bias"],
			Context: adapter[p+"context.weight"]}
		cw := &modelbuild.ControllerWeights{Norm: controller[q+"norm.weight"], FC1: controller[q+"fc1.weight"], FC1Bias: controller[q+"fc1.bias"],
			FC2: controller[q+"fc2.weight"], FC2Bias: controller[q+"fc2.bias"]}
		if len(aw.Norm) != D || len(aw.Down) != D*r || len(aw.Up) != r*D || len(aw.Bias) != D || len(aw.Context) != a.AdapterContextWidth()*r ||
			len(cw.Norm) != D || len(cw.FC1) != D*C || len(cw.FC1Bias) != C || len(cw.FC2) != C || len(cw.FC2Bias) != 1 {
			return mods, fmt.Errorf("training: %s: adapter or controller of layer %d lacks a tensor or has the wrong size for the architecture", dir, j)
		}
		mods.Adapters[j], mods.Controllers[j] = aw, cw
	}
	return mods, nil
}

// readInitializers returns the float initializers of an ONNX file by name.
func readInitializers(dir, file string) (map[string][]float32, error) {
	if file == "" {
		return nil, fmt.Errorf("training: bundle %s lists no file for a dynamic layer's adapter or controller", dir)
	}
	model, err := onnx.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("training: %s: %w", file, err)
	}
	ctx := context.New()
	if err := model.VariablesToContext(ctx); err != nil {
		return nil, fmt.Errorf("training: %s: %w", file, err)
	}
	out := map[string][]float32{}
	for v := range ctx.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		if t.DType() == dtypes.Float32 {
			out[strings.ReplaceAll(v.Name(), "|", "/")] = tensors.MustCopyFlatData[float32](t)
		}
	}
	return out, nil
}
