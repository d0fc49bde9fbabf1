package package_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// treeBudget bounds what a clone's working tree holds. A lent GPU machine (docs/notes/gpu.md) is
// sent the working tree with the files a session carries, 64 MiB in all; a DAgger session carries
// the stripped -tags xla binary (about 8.4 MiB as xz) and ONNX Runtime's library (about 8.6 MiB as
// xz), so the tree must stay below 47 MiB for them to travel in one call. At 73 MiB (2026-12-06) no
// call could start at all.
const treeBudget = 47 << 20

// cloneFiles lists what a clone holds and a lent machine is sent: the files git tracks and those it
// does not ignore, relative to the repository's root (the test is skipped outside a git checkout).
func cloneFiles(t *testing.T) (root string, files []string) {
	root = repoFile(t, ".")
	cmd := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	return root, strings.Split(strings.TrimSpace(string(out)), "\n")
}

// The files git tracks, and those it does not ignore, fit the budget above; a change that commits
// more bundles or weights must make room for them.
func TestTheWorkingTreeFitsALentGPUMachine(t *testing.T) {
	root, files := cloneFiles(t)
	var total int64
	var largest []string
	for _, f := range files {
		info, err := os.Lstat(filepath.Join(root, f))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree, not yet committed
		}
		require.NoError(t, err)
		total += info.Size()
		if info.Size() > 2<<20 {
			largest = append(largest, f)
		}
	}
	require.LessOrEqual(t, total, int64(treeBudget),
		"the working tree holds %.1f MiB, above the %d MiB a lent GPU machine takes with a session's files; the files above 2 MiB: %v",
		float64(total)/(1<<20), treeBudget>>20, largest)
	t.Logf("the working tree holds %.1f MiB of %d MiB", float64(total)/(1<<20), treeBudget>>20)
}
