package hostmemory

import (
	"io/fs"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const gib = 1 << 30

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func noAddressLimit(fs.FS) (Limit, bool) { return Limit{}, false }

// A machine with no container limit: MemAvailable is the bound.
func TestMemAvailableAlone(t *testing.T) {
	root := fstest.MapFS{
		"proc/meminfo":     file("MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"),
		"proc/self/cgroup": file("0::/\n"),
	}
	l, ok := least(bounds(root, noAddressLimit))
	require.True(t, ok)
	require.Equal(t, Limit{Bytes: 20000000 * 1024, Source: "MemAvailable in /proc/meminfo"}, l)
}

// Under cgroup v2 the tighter of the process's cgroup and its parents counts, less what it uses, its
// inactive file cache not counted as used; "max" is no limit.
func TestCgroupV2LimitOfAnAncestor(t *testing.T) {
	root := fstest.MapFS{
		"proc/meminfo":                                          file("MemAvailable:   20000000 kB\n"),
		"proc/self/cgroup":                                      file("0::/robot.slice/dysl.service\n"),
		"sys/fs/cgroup/cgroup.controllers":                      file("cpu memory pids\n"),
		"sys/fs/cgroup/robot.slice/memory.max":                  file("4294967296\n"),
		"sys/fs/cgroup/robot.slice/memory.current":              file("1073741824\n"),
		"sys/fs/cgroup/robot.slice/memory.stat":                 file("anon 900000000\ninactive_file 536870912\nactive_file 1\n"),
		"sys/fs/cgroup/robot.slice/dysl.service/memory.max":     file("max\n"),
		"sys/fs/cgroup/robot.slice/dysl.service/memory.current": file("104857600\n"),
	}
	l, ok := least(bounds(root, noAddressLimit))
	require.True(t, ok)
	require.Equal(t, Limit{Bytes: 4*gib - (gib - gib/2), Source: "the cgroup v2 memory limit of /robot.slice"}, l)
	require.EqualError(t, check(10, "episodes like the first", gib, l),
		"10 episodes like the first need about 10.0 GiB in memory (1.0 GiB each), and 3.5 GiB is available (the cgroup v2 memory limit of /robot.slice)")
	require.NoError(t, check(3, "episodes like the first", gib, l))
}

// Inside a container the cgroup file names the host's path, which the container's mount does not
// have: the mount's own limit counts. cgroup v1 reports no limit as a number near 2^63.
func TestCgroupV1InsideAContainer(t *testing.T) {
	root := fstest.MapFS{
		"proc/meminfo":     file("MemAvailable:   20000000 kB\n"),
		"proc/self/cgroup": file("12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n"),
		"sys/fs/cgroup/memory/memory.limit_in_bytes": file("2147483648\n"),
		"sys/fs/cgroup/memory/memory.usage_in_bytes": file("1073741824\n"),
		"sys/fs/cgroup/memory/memory.stat":           file("cache 10\ntotal_inactive_file 0\n"),
	}
	l, _ := least(bounds(root, noAddressLimit))
	require.Equal(t, Limit{Bytes: gib, Source: "the cgroup v1 memory limit of /"}, l)

	root["sys/fs/cgroup/memory/memory.limit_in_bytes"] = file("9223372036854771712\n")
	l, _ = least(bounds(root, noAddressLimit))
	require.Equal(t, "MemAvailable in /proc/meminfo", l.Source, "v1's 'no limit' is not a limit")
}

// ulimit -v bounds the virtual size: what is left is the limit less VmSize.
func TestAddressSpaceLimit(t *testing.T) {
	root := fstest.MapFS{
		"proc/meminfo":     file("MemAvailable:   20000000 kB\n"),
		"proc/self/status": file("Name:\tdysl\nVmPeak:\t 2097152 kB\nVmSize:\t 1048576 kB\n"),
	}
	limit := func(root fs.FS) (Limit, bool) { return addressSpaceRoom(root, 6*gib) }
	l, _ := least(bounds(root, limit))
	require.Equal(t, Limit{Bytes: 5 * gib, Source: "the address-space limit, ulimit -v"}, l)
}

// Where nothing can be read there is no figure, and Check lets the run go.
func TestNothingReadable(t *testing.T) {
	_, ok := least(bounds(fstest.MapFS{}, noAddressLimit))
	require.False(t, ok)
}

// A count whose bytes overflow 64 bits is refused, not wrapped round to a small number.
func TestOverflowIsRefused(t *testing.T) {
	require.ErrorContains(t, check(1<<40, "observations", 1<<30, Limit{Bytes: 8 * gib, Source: "test"}), "1099511627776 observations need about")
}

// What fits exactly is let through, and so is nothing at all, even with no room.
func TestExactFitAndNothingPass(t *testing.T) {
	require.NoError(t, check(4, "episodes", gib, Limit{Bytes: 4 * gib, Source: "test"}))
	require.Error(t, check(4, "episodes", gib, Limit{Bytes: 4*gib - 1, Source: "test"}))
	require.NoError(t, check(0, "episodes", gib, Limit{Bytes: 0, Source: "test"}))
}

// On this Linux machine some bound is read, and it is more than a mebibyte.
func TestAvailableHere(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the bounds are read on Linux only")
	}
	l, ok := Available()
	require.True(t, ok)
	require.Greater(t, l.Bytes, uint64(1<<20), l.Source)
	require.NoError(t, Check(1, "bytes", 1))
}
