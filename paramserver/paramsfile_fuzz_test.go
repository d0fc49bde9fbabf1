package paramserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"dysl_vla/msgs"
)

// FuzzParamsFile feeds arbitrary bytes to the params-file reader as a --params-file: it must end in
// values or an error naming the file, never a panic, and values it gives must be ones a server takes
// as overrides (a name the server refuses would fail the node's start-up with an error that names no
// file) and declares or refuses with an error.
func FuzzParamsFile(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "params", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	testdata, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range append(seeds, testdata...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, text := range []string{
		"/**:\n  ros__parameters:\n    link_timeout: .inf\n    rate: .nan\n    big: 99999999999999999999\n    small: 1e999\n",
		"/**:\n  ros__parameters:\n    a: &x {b: 1}\n    c: *x\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n/**:\n  ros__parameters:\n    d: *c\n",
		"/**:\n  ros__parameters:\n    &k x: 1\n    *k : 2\n",
		"/**:\n  ros__parameters:\n    ? [a, b]\n    : 1\n",
		"/**:\n  ros__parameters:\n    \"\": 1\n    camera: {\"\": 2}\n",
		"/robot:\n  vla_node:\n    ros__parameters: {ids: [1, 2], on: [yes, no], s: [!!str 1, b]}\n",
	} {
		f.Add([]byte(text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		values, err := LoadParamsFile(path, "/robot/vla_node")
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("an error that names no file: %v", err)
			}
			return
		}
		// rcl refuses aliases wherever they stand: a file holding one must not load here either.
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && holdsAlias(&doc) {
			t.Fatalf("a file with an alias loads: %v", values)
		}
		if _, err := UnmatchedNodeKeys(path, "/robot/vla_node"); err != nil {
			t.Fatalf("the file loads but its node keys do not: %v", err)
		}
		s, err := New(Config{Node: "/robot/vla_node", Overrides: values})
		if err != nil {
			t.Fatalf("the file loads but the server refuses its values: %v", err)
		}
		for name, v := range values {
			if v.Type < msgs.ParameterBool || v.Type > msgs.ParameterStringArray {
				t.Fatalf("parameter %q: type %d", name, v.Type)
			}
			// Declared as the value's own type with a range: taken, or refused with an error.
			_, _ = s.Declare(name, Value{Type: v.Type}, Descriptor{})
		}
	})
}

func holdsAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, child := range n.Content {
		if holdsAlias(child) {
			return true
		}
	}
	return false
}
