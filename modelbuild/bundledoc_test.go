package modelbuild

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// docs/BUNDLE.md tells a model author what to write where dysl model build would write it. Its field
// table names every manifest field and nothing else, and its example manifest is one the bundle
// package reads and accepts, so that the page cannot fall behind the format.
func TestBundleDocFollowsTheManifest(t *testing.T) {
	raw, err := os.ReadFile("../docs/BUNDLE.md")
	require.NoError(t, err)
	doc := string(raw)

	leaves, blocks := manifestPaths(reflect.TypeOf(bundle.Manifest{}), "")
	table := section(t, doc, "### Fields")
	named := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "field" {
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
			named[m[1]] = true
			require.True(t, leaves[m[1]] || blocks[m[1]], "docs/BUNDLE.md's field table names %q, which is no manifest field", m[1])
		}
	}
	for leaf := range leaves {
		require.True(t, named[leaf], "docs/BUNDLE.md's field table leaves out the manifest field %q", leaf)
	}

	example := section(t, doc, "### An example")
	start := strings.Index(example, "```yaml\n")
	require.GreaterOrEqual(t, start, 0, "the example has no yaml block")
	body := example[start+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.ManifestFile), []byte(body), 0o644))
	m, err := bundle.ReadManifest(dir)
	require.NoError(t, err, "the example manifest does not read")
	require.Empty(t, m.Validate(), "the example manifest is not valid")
}

// manifestPaths lists the YAML paths of t's fields: leaves (values, lists, maps) and blocks (structs).
func manifestPaths(t reflect.Type, prefix string) (leaves, blocks map[string]bool) {
	leaves, blocks = map[string]bool{}, map[string]bool{}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := prefix + tag
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct {
			leaves[path] = true
			continue
		}
		blocks[path] = true
		l, b := manifestPaths(ft, path+".")
		for k := range l {
			leaves[k] = true
		}
		for k := range b {
			blocks[k] = true
		}
	}
	return leaves, blocks
}

// section is doc from the heading line to the next heading of any level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	start := strings.Index(doc, "\n"+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "docs/BUNDLE.md has no %q", heading)
	rest := doc[start+1+len(heading)+1:]
	if end := regexp.MustCompile(`(?m)^#{1,6} `).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}
