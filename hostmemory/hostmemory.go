// Package hostmemory says how much more memory this process can take before the kernel refuses it or
// kills it, so that a run sized by its user (training episodes, calibration observations) is refused
// at its start instead of dying part way. Three bounds are read, and the least one counts:
//   - the machine's: MemAvailable of /proc/meminfo, which counts the page cache the kernel can drop;
//   - the container's: the memory limit of the process's cgroup (v2, or v1's memory controller) and of
//     every cgroup above it, less what they use now (reclaimable file cache not counted), as on a
//     Jetson running the node in Docker;
//   - the process's: its address-space limit (ulimit -v) less its virtual size.
package hostmemory

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"dysl_vla/bytesize"
)

// Limit is how many bytes the process can still take, and which bound says so.
type Limit struct {
	Bytes  uint64
	Source string
}

// Available is the least of the bounds that could be read; ok is false where none could (not Linux),
// and then no check is made.
func Available() (limit Limit, ok bool) {
	return least(bounds(os.DirFS("/"), addressSpaceLimit))
}

// Check refuses count items of each bytes that do not fit in what is available, e.g. "100000
// episodes like the first need about 158.6 GiB in memory (1.6 MiB each), and 22.9 GiB is available
// (MemAvailable in /proc/meminfo)". The caller names the items and says what to change.
func Check(count int, items string, each uint64) error {
	limit, ok := Available()
	if !ok {
		return nil
	}
	return check(count, items, each, limit)
}

func check(count int, items string, each uint64, limit Limit) error {
	need := each * uint64(count)
	if count > 0 && need/uint64(count) != each { // overflowed: certainly too much
		need = ^uint64(0)
	}
	if need <= limit.Bytes {
		return nil
	}
	return fmt.Errorf("%d %s need about %s in memory (%s each), and %s is available (%s)",
		count, items, bytesize.Format(need), bytesize.Format(each), bytesize.Format(limit.Bytes), limit.Source)
}

func least(limits []Limit) (Limit, bool) {
	if len(limits) == 0 {
		return Limit{}, false
	}
	low := limits[0]
	for _, l := range limits[1:] {
		if l.Bytes < low.Bytes {
			low = l
		}
	}
	return low, true
}

// bounds reads every bound it can from root (the file system's "/"); addressSpace gives the
// process's address-space limit and its virtual size, ok false when unlimited.
func bounds(root fs.FS, addressSpace func(root fs.FS) (Limit, bool)) []Limit {
	var limits []Limit
	if kib, err := fieldKiB(root, "proc/meminfo", "MemAvailable:"); err == nil {
		limits = append(limits, Limit{Bytes: kib * 1024, Source: "MemAvailable in /proc/meminfo"})
	}
	limits = append(limits, cgroupLimits(root)...)
	if l, ok := addressSpace(root); ok {
		limits = append(limits, l)
	}
	return limits
}

// fieldKiB reads a "Name:   1234 kB" line of a /proc file.
func fieldKiB(root fs.FS, file, name string) (uint64, error) {
	f, err := root.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, found := strings.CutPrefix(lines.Text(), name); found {
			return strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s line", file, name)
}

// unlimited is where cgroup v1 reports "no limit": the largest page-aligned int64 or near it.
const unlimited = 1 << 62

// cgroupLimits reads the memory limits of the process's cgroup and of its ancestors, v2 and v1 alike
// (a hybrid host has both; a container with its own cgroup namespace sees its cgroup as "/").
func cgroupLimits(root fs.FS) []Limit {
	data, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return nil
	}
	var limits []Limit
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// hierarchy-ID:controllers:path; v2's line is "0::path".
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			for _, mount := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
				if _, err := fs.Stat(root, path.Join(mount, "cgroup.controllers")); err == nil {
					limits = append(limits, walkUp(root, mount, parts[2], "memory.max", "memory.current", "inactive_file", "the cgroup v2 memory limit")...)
					break
				}
			}
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // v1: the controllers, comma-separated
			limits = append(limits, walkUp(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", "the cgroup v1 memory limit")...)
		}
	}
	return limits
}

// walkUp reads the limit of the cgroup at mount/dir and of each cgroup above it up to the mount. A
// dir that is not under the mount (the host's path, seen from inside a container) starts at the mount.
func walkUp(root fs.FS, mount, dir, limitFile, usageFile, inactiveField, source string) []Limit {
	dir = path.Join(mount, strings.TrimPrefix(path.Clean("/"+dir), "/"))
	if _, err := fs.Stat(root, dir); err != nil {
		dir = mount
	}
	var limits []Limit
	for {
		if l, ok := cgroupRoom(root, dir, limitFile, usageFile, inactiveField); ok {
			l.Source = source + " of /" + strings.TrimPrefix(strings.TrimPrefix(dir, mount), "/")
			limits = append(limits, l)
		}
		if dir == mount {
			return limits
		}
		dir = path.Dir(dir)
	}
}

// cgroupRoom is a cgroup's limit less its usage, the inactive file cache (which the kernel reclaims
// before it kills) not counted as used.
func cgroupRoom(root fs.FS, dir, limitFile, usageFile, inactiveField string) (Limit, bool) {
	limit, err := readNumber(root, path.Join(dir, limitFile))
	if err != nil || limit >= unlimited {
		return Limit{}, false // "max", no file (the root cgroup), or v1's "no limit"
	}
	used, err := readNumber(root, path.Join(dir, usageFile))
	if err != nil {
		return Limit{}, false
	}
	if inactive, err := statField(root, path.Join(dir, "memory.stat"), inactiveField); err == nil && inactive <= used {
		used -= inactive
	}
	if used >= limit {
		return Limit{Bytes: 0}, true
	}
	return Limit{Bytes: limit - used}, true
}

func readNumber(root fs.FS, file string) (uint64, error) {
	data, err := fs.ReadFile(root, file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// statField reads "name value" of a cgroup's memory.stat.
func statField(root fs.FS, file, name string) (uint64, error) {
	data, err := fs.ReadFile(root, file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if value, found := strings.CutPrefix(line, name+" "); found {
			return strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		}
	}
	return 0, errors.New(file + ": no " + name)
}

// addressSpaceRoom is limit less the process's virtual size (VmSize of /proc/self/status).
func addressSpaceRoom(root fs.FS, limit uint64) (Limit, bool) {
	kib, err := fieldKiB(root, "proc/self/status", "VmSize:")
	if err != nil {
		return Limit{}, false
	}
	room := uint64(0)
	if size := kib * 1024; size < limit {
		room = limit - size
	}
	return Limit{Bytes: room, Source: "the address-space limit, ulimit -v"}, true
}
