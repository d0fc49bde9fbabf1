//go:build xla

package training

// Built with `-tags xla`, the binary also holds GoMLX's XLA backend, which runs the training graphs
// through a PJRT plugin chosen by GOMLX_BACKEND (NewBackend). It is a tag, not a default, because
// it needs cgo and a plugin that the robot and CI never have.

import (
	"os"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// The GPU plugin takes 75% of the GPU's memory at start by default, so a second training run on the
// same GPU fails; these runs are small, so memory is taken as needed instead. DYSL_XLA_PREALLOCATE=1
// keeps the plugin's default (for a plugin that rejects the option).
func init() {
	backends.Register(xla.BackendName, func(config string) (backends.Backend, error) {
		if os.Getenv("DYSL_XLA_PREALLOCATE") == "1" {
			return xla.New(config)
		}
		return xla.NewWithOptions(config, pjrt.NamedValuesMap{"preallocate": false})
	})
}
