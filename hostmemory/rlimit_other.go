//go:build !linux

package hostmemory

import "io/fs"

// addressSpaceLimit is not read outside Linux: the project's targets are Linux machines.
func addressSpaceLimit(fs.FS) (Limit, bool) { return Limit{}, false }
