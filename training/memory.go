package training

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// frameBytes is about what the frames take in memory: their slices' contents and the Frame values.
func frameBytes(frames []Frame) uint64 {
	const frameValue = 256 // the struct itself: slice headers, the action, the scalars
	var n uint64
	for _, f := range frames {
		n += frameValue + uint64(len(f.RGB)) + 8*uint64(len(f.Tokens)+len(f.State)+len(f.Unlabelled)) +
			4*uint64(len(f.Chunk)+len(f.Probe)+len(f.Keypoints)+len(f.Selection))
	}
	return n
}

// checkDatasetFits refuses a dataset of episodes that cannot fit in available bytes, judged by the
// first episode's size: a run that would only die of memory part way is refused before it starts.
func checkDatasetFits(episodes int, first, available uint64) error {
	need := first * uint64(episodes)
	if need <= available {
		return nil
	}
	const gib, mib = 1 << 30, 1 << 20
	return fmt.Errorf("training: %d episodes need about %.1f GiB in memory (%.1f MiB each, judged by the first), and %.1f GiB is available: use fewer episodes",
		episodes, float64(need)/gib, float64(first)/mib, float64(available)/gib)
}

// availableMemory is the kernel's estimate of the memory a process can still take without swapping
// (MemAvailable in /proc/meminfo, which counts the page cache it can drop; the free memory alone would
// refuse runs that fit). ok is false where the file or the line is missing: no check is made there.
// A container's cgroup limit or a ulimit is not seen: under one, a run that passes can still die of
// memory.
func availableMemory() (bytes uint64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		rest, found := strings.CutPrefix(lines.Text(), "MemAvailable:")
		if !found {
			continue
		}
		kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, false
		}
		return kib * 1024, true
	}
	return 0, false
}
