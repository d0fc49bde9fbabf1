package msgs

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs/internal/msggen"
)

// TestGeneratedFilesAreCurrent regenerates the message code in memory from
// msg/, upstream/, testdata/fixtures/ and the generator, and fails when a
// generated file differs (stale, or edited by hand), is missing, or is left
// over.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	want, err := msggen.Generate(os.DirFS("."), msggen.MsgsAPI)
	require.NoError(t, err)

	var onDisk []string
	for _, suffix := range []string{msggen.GeneratedSuffix, msggen.FixtureSuffix} {
		matches, err := filepath.Glob("*" + suffix)
		require.NoError(t, err)
		onDisk = append(onDisk, matches...)
	}
	wantNames := make([]string, 0, len(want))
	for name := range want {
		wantNames = append(wantNames, name)
	}
	sort.Strings(wantNames)
	sort.Strings(onDisk)
	require.Equal(t, wantNames, onDisk, "generated files differ from what msggen writes; run go generate ./msgs")

	for _, name := range wantNames {
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		if !bytes.Equal(want[name], got) {
			t.Errorf("%s is stale or was edited by hand; run go generate ./msgs (and put hand-written code in a file without the %s suffix)", name, msggen.GeneratedSuffix)
		}
	}
}
