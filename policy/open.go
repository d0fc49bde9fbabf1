package policy

import (
	"dysl_vla/policy/bundle"
	"dysl_vla/skipping"
)

// Open loads the bundle in dir, starts ONNX Runtime on it and returns an initialized engine.
func Open(dir string, ortCfg ORTConfig, cfg skipping.Config) (*Engine, error) {
	b, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	backend, err := NewORTBackend(dir, &b.Manifest, ortCfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{Manifest: &b.Manifest, Backend: backend, Skipping: &cfg}
	if err := e.Initialize(); err != nil {
		backend.Close()
		return nil, err
	}
	return e, nil
}
