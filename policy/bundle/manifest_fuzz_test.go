package bundle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzManifest feeds arbitrary bytes to a bundle as its manifest.yaml, without its graphs (so each run
// is parse and validation, no ONNX): Load must refuse it with a *ValidationError naming the bundle,
// never panic, and a manifest whose own fields Validate passes must give the layer plan the engine
// sizes itself by: every layer in one segment, a file for every graph.
func FuzzManifest(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("..", "..", "models", "reference", "tiny", ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte("format: dysl-bundle/1\ndims: &d {layers: 8.5}\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\nname: *d\n"))
	f.Add([]byte("files: {adapters: {3: a, 0x3: b}}\n---\nformat: x\n"))
	f.Add(laughs("static_profile"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		var invalid *ValidationError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("a bundle without graphs: want a *ValidationError naming %s, got %v", dir, err)
		}
		m, err := ReadManifest(dir)
		if err != nil || len(m.Validate()) > 0 {
			return
		}
		covered := 0
		for _, seg := range m.Segments() {
			for _, j := range seg.Dynamic {
				if j != covered || m.Files.Adapters[j] == "" || m.Files.Controllers[j] == "" {
					t.Fatalf("dynamic layer %d of segment %v: want layer %d, with an adapter and a controller", j, seg, covered)
				}
				covered++
			}
			if seg.Static != covered {
				t.Fatalf("segment %v: want static layer %d", seg, covered)
			}
			covered++
		}
		if covered != m.Dims.Layers || len(m.Files.Layers) != covered {
			t.Fatalf("segments cover %d layers, files.layers names %d, dims.layers is %d", covered, len(m.Files.Layers), m.Dims.Layers)
		}
	})
}

// laughs is a billion-laughs alias bomb, nine levels of nine, under key: 9^9 strings when expanded.
// yaml.v3's decoder refuses it ("excessive aliasing") before it expands far.
func laughs(key string) []byte {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for k := 0; k < 9; k++ {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "%s: *a9\n", key)
	return []byte(b.String())
}
