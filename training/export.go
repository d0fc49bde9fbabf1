package training

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// The adapter and controller graphs below restate modelbuild's (graphs.go: graphEmitter.adapter and
// .controller), node for node and with the same tensor names, because modelbuild does not export its
// emitters. TestExportedGraphsMatchReference runs them on ONNX Runtime against modelbuild's reference
// Model.Adapter and Model.Controller, so the two cannot drift apart unnoticed.

// rmsNormONNX: x / sqrt(mean(x², last axis) + eps) · gain.
func rmsNormONNX(b *onnxgraph.Builder, x onnxgraph.Value, eps float64, gainName string, gain []float32) onnxgraph.Value {
	defer b.Scope("rmsnorm")()
	meanSquare := b.ReduceMean(b.Pow(x, b.Scalar(2)), true, -1)
	rms := b.Sqrt(b.Add(meanSquare, b.Scalar(float32(eps))))
	return b.Mul(b.Div(x, rms), b.Weight(gainName, []int64{int64(len(gain))}, gain))
}

func sigmoidONNX(b *onnxgraph.Builder, x onnxgraph.Value) onnxgraph.Value {
	half := b.Scalar(0.5)
	return b.Mul(half, b.Add(b.Scalar(1), b.Tanh(b.Mul(x, half))))
}

// AdapterGraph is adapter j as an ONNX graph: hidden_in [1,T,D] -> hidden_out [1,T,D].
func AdapterGraph(a modelbuild.Arch, j int, w *modelbuild.AdapterWeights) *onnxgraph.Builder {
	b := onnxgraph.NewBuilder(fmt.Sprintf("adapter_%d", j))
	b.SetMetadata(bundle.MetaRole, "adapter")
	b.SetMetadata(bundle.MetaIndex, strconv.Itoa(j))
	T, D, r := int64(a.Tokens()), int64(a.Hidden), int64(a.AdapterRank)
	h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, D)
	p := "adapters." + strconv.Itoa(j) + "."
	end := b.Scope("adapters." + strconv.Itoa(j))
	n := rmsNormONNX(b, h, a.NormEps, p+"norm.weight", w.Norm)
	low := b.MatMul(n, b.Weight(p+"down.weight", []int64{D, r}, w.Down))
	delta := b.Add(b.MatMul(low, b.Weight(p+"up.weight", []int64{r, D}, w.Up)), b.Weight(p+"up.bias", []int64{D}, w.Bias))
	out := b.Add(h, delta)
	end()
	b.Output(bundle.OutputHidden, out, onnxgraph.Float, 1, T, D)
	return b
}

// ControllerGraph is controller j as an ONNX graph: hidden_in [1,T,D] -> skip_prob [1,1].
func ControllerGraph(a modelbuild.Arch, j int, w *modelbuild.ControllerWeights) *onnxgraph.Builder {
	b := onnxgraph.NewBuilder(fmt.Sprintf("controller_%d", j))
	b.SetMetadata(bundle.MetaRole, "controller")
	b.SetMetadata(bundle.MetaIndex, strconv.Itoa(j))
	T, D, C := int64(a.Tokens()), int64(a.Hidden), int64(a.ControllerHidden)
	h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, D)
	p := "controllers." + strconv.Itoa(j) + "."
	end := b.Scope("controllers." + strconv.Itoa(j))
	pooled := b.ReduceMean(h, false, 1)
	n := rmsNormONNX(b, pooled, a.NormEps, p+"norm.weight", w.Norm)
	z := b.Tanh(b.Add(b.MatMul(n, b.Weight(p+"fc1.weight", []int64{D, C}, w.FC1)), b.Weight(p+"fc1.bias", []int64{C}, w.FC1Bias)))
	logit := b.Add(b.MatMul(z, b.Weight(p+"fc2.weight", []int64{C, 1}, w.FC2)), b.Weight(p+"fc2.bias", []int64{1}, w.FC2Bias))
	out := sigmoidONNX(b, logit)
	end()
	b.Output(bundle.OutputSkipProb, out, onnxgraph.Float, 1, 1)
	return b
}

// SkipModules are the trained parts of a DySL bundle, by dynamic layer.
type SkipModules struct {
	Adapters    map[int]*modelbuild.AdapterWeights
	Controllers map[int]*modelbuild.ControllerWeights
}

// WriteSkipModules writes adapter_XX.onnx and controller_XX.onnx for every dynamic layer of m into the
// bundle directory, points m.Files at them, records how they were made in the provenance, writes the
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
		if _, err := AdapterGraph(a, j, aw).WriteFile(filepath.Join(dir, adapterFile), onnxgraph.WriteOptions{}); err != nil {
			return fmt.Errorf("training: %s: %w", adapterFile, err)
		}
		if _, err := ControllerGraph(a, j, cw).WriteFile(filepath.Join(dir, controllerFile), onnxgraph.WriteOptions{}); err != nil {
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
