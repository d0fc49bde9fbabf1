package training

import (
	"fmt"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
)

// OpenBundleBackbone reads a bundle's manifest and rebuilds its backbone weights: from weightsFile when
// given, else from the manifest's provenance (a random backbone is modelbuild.RandomWeights of the
// recorded preset and seed; a trained one needs its safetensors file, since the manifest only records
// the file's name). The preset's architecture must match the manifest's dims.
func OpenBundleBackbone(dir, weightsFile string) (*bundle.Manifest, modelbuild.Arch, *modelbuild.Weights, error) {
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		return nil, modelbuild.Arch{}, nil, err
	}
	preset, err := modelbuild.LookupPreset(m.Provenance.Preset)
	if err != nil {
		return nil, modelbuild.Arch{}, nil, fmt.Errorf("training: bundle %s: provenance: %w", dir, err)
	}
	a := preset.Arch
	d := m.Dims
	if d.Layers != a.Layers || d.Hidden != a.Hidden || d.Tokens != a.Tokens() || d.Chunk != a.Chunk || d.ActionDim != a.ActionDim {
		return nil, a, nil, fmt.Errorf("training: bundle %s: dims %+v do not match preset %s", dir, d, preset.Name)
	}
	switch {
	case weightsFile != "":
		w, err := modelbuild.LoadWeights(weightsFile, a)
		return m, a, w, err
	case m.Provenance.Weights == "":
		return m, a, modelbuild.RandomWeights(a, m.Provenance.Seed), nil
	default:
		return nil, a, nil, fmt.Errorf("training: bundle %s was built from weights %q: pass that file with --weights", dir, m.Provenance.Weights)
	}
}
