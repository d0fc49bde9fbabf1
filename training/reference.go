package training

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// OpenBundleBackbone reads a bundle's manifest and rebuilds its backbone weights: from weightsFile when
// given, else from the manifest's provenance (a random backbone is modelbuild.RandomWeights of the
// recorded preset and seed; a trained one needs its safetensors file, since the manifest only records
// the file's name). The architecture is modelbuild.BundleArch's.
func OpenBundleBackbone(dir, weightsFile string) (*bundle.Manifest, modelbuild.Arch, *modelbuild.Weights, error) {
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		return nil, modelbuild.Arch{}, nil, err
	}
	a, err := modelbuild.BundleArch(m)
	if err != nil {
		return nil, a, nil, fmt.Errorf("training: bundle %s: %w", dir, err)
	}
	switch {
	case weightsFile != "":
		w, err := modelbuild.LoadWeights(weightsFile, a)
		if err == nil {
			err = checkBackbone(dir, m, a, w, weightsFile)
		}
		if err != nil {
			return nil, a, nil, err
		}
		return m, a, w, nil
	case m.Provenance.Weights == "":
		return m, a, modelbuild.RandomWeights(a, m.Provenance.Seed), nil
	default:
		return nil, a, nil, fmt.Errorf("training: bundle %s was built from weights %q: pass that file with --weights", dir, m.Provenance.Weights)
	}
}

// checkBackbone refuses weights that are not the backbone the bundle's graphs hold: distilling or
// calibrating against another backbone rewrites the bundle with adapters and static layers fitted to
// a model it does not run, and nothing would show it. The graphs of the prefix, the last layer and the
// head carry the backbone's tensors under their safetensors names; each must equal the file's. A graph
// whose initializers lie in an external data file (the bench preset) is not read.
func checkBackbone(dir string, m *bundle.Manifest, a modelbuild.Arch, w *modelbuild.Weights, weightsFile string) error {
	tensors := w.Tensors(a)
	for _, file := range []string{m.Files.Prefix, m.Files.Layers[len(m.Files.Layers)-1], m.Files.Head} {
		info, err := onnxgraph.ReadInfoFile(filepath.Join(dir, file))
		if err != nil {
			return fmt.Errorf("training: bundle %s: %w", dir, err)
		}
		if slices.ContainsFunc(info.Initializers, func(i onnxgraph.InitializerInfo) bool { return i.External != nil }) {
			continue
		}
		graph, err := readInitializers(dir, file)
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(graph)) {
			want, ok := tensors[name]
			if ok && !slices.Equal(want, graph[name]) {
				return fmt.Errorf("training: %s is not the backbone of bundle %s: its tensor %s differs from the one in %s "+
					"(the bundle was built from %q); pass that file, or build a bundle from this one", weightsFile, dir, name, file, m.Provenance.Weights)
			}
		}
	}
	return nil
}
