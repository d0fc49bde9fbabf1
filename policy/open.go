package policy

import (
	"dysl_vla/policy/bundle"
	"dysl_vla/skipping"
)

// Open loads the bundle in dir, starts a backend on it with openBackend (ortbackend.Opener for ONNX
// Runtime) and returns an initialized engine.
func Open(dir string, openBackend BackendOpener, cfg skipping.Config) (*Engine, error) {
	b, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	backend, err := openBackend(dir, &b.Manifest)
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
