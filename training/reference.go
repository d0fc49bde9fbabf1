package training

import (
	"fmt"

	"dysl_vla/modelbuild"
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
		return m, a, w, err
	case m.Provenance.Weights == "":
		return m, a, modelbuild.RandomWeights(a, m.Provenance.Seed), nil
	default:
		return nil, a, nil, fmt.Errorf("training: bundle %s was built from weights %q: pass that file with --weights", dir, m.Provenance.Weights)
	}
}
