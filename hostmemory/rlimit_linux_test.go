package hostmemory

import (
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// ulimit -v is read from the process itself: with no limit there is no bound, and with one the room
// is the limit less the virtual size now. The soft limit is set far above what the test process
// maps (64 GiB over it), and put back.
func TestAddressSpaceLimitOfThisProcess(t *testing.T) {
	var saved syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &saved))
	if saved.Cur != ^uint64(0) {
		t.Skipf("the test process already runs under ulimit -v (%d bytes)", saved.Cur)
	}
	root := os.DirFS("/")
	_, ok := addressSpaceLimit(root)
	require.False(t, ok, "no ulimit -v: no bound from it")

	kib, err := fieldKiB(root, "proc/self/status", "VmSize:")
	require.NoError(t, err)
	limit := kib*1024 + 64*gib
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: saved.Max}))
	l, ok := addressSpaceLimit(root)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &saved))
	require.True(t, ok)
	require.Equal(t, "the address-space limit, ulimit -v", l.Source)
	// The virtual size moves a little between the two reads.
	require.InDelta(t, float64(64*gib), float64(l.Bytes), float64(gib))
}
