package hostmemory

import (
	"io/fs"
	"syscall"
)

// addressSpaceLimit is the room under the process's address-space limit (ulimit -v): the limit less
// its virtual size now. Go's heap grows the virtual size about as much as it takes.
func addressSpaceLimit(root fs.FS) (Limit, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err != nil || r.Cur == ^uint64(0) {
		return Limit{}, false
	}
	return addressSpaceRoom(root, r.Cur)
}
