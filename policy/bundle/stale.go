package bundle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"dysl_vla/onnxgraph"
)

// RemoveStaleGraphs removes from dir the graph files, with their external data, that the manifest old
// names and current does not. A bundle rebuilt over an older one with fewer layers or other dynamic
// layers would otherwise keep graphs that nothing reads beside the ones it uses, and look like a
// bundle it is not. Files no manifest names (reports, plots, the .trt caches) stay, so does a data
// file a graph of current refers to, and so does any name that points outside dir.
func RemoveStaleGraphs(dir string, old, current *Manifest) error {
	keep := map[string]bool{}
	for _, file := range current.computeFiles(dir) {
		keep[filepath.Clean(file)] = true
	}
	var errs []error
	for _, name := range old.graphFiles() {
		if name == "" {
			continue
		}
		if name = filepath.Clean(name); keep[name] || !filepath.IsLocal(name) {
			continue
		}
		for _, file := range append(externalDataFiles(dir, name), name) { // the data first: the graph names it
			if file = filepath.Clean(file); keep[file] || !filepath.IsLocal(file) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, file)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// OwnFiles lists the files of the bundle in dir, relative to it: its manifest and the graphs the
// manifest names, with their external data. Just the manifest when it cannot be read.
func OwnFiles(dir string) []string {
	files := []string{ManifestFile}
	m, err := ReadManifest(dir)
	if err != nil {
		return files
	}
	return append(files, m.computeFiles(dir)...)
}

// computeFiles lists, relative to dir, the files the bundle in dir computes with besides its
// manifest: every graph m names and the external data files those graphs refer to.
func (m *Manifest) computeFiles(dir string) []string {
	var files []string
	for _, name := range m.graphFiles() {
		if name != "" {
			files = append(append(files, name), externalDataFiles(dir, name)...)
		}
	}
	return files
}

// externalDataFiles lists the external data files graph (a path relative to dir) refers to, relative
// to dir, as its initializers name them; when the graph cannot be read, the name the builder gives its
// data, graph.data.
func externalDataFiles(dir, graph string) []string {
	info, err := onnxgraph.ReadInfoFile(filepath.Join(dir, graph))
	if err != nil {
		return []string{graph + ".data"}
	}
	return externalDataOf(info, graph)
}

// externalDataOf lists the external data files of graph, read as info, relative to the bundle.
func externalDataOf(info *onnxgraph.ModelInfo, graph string) []string {
	var files []string
	for _, init := range info.Initializers {
		if init.External != nil {
			files = append(files, filepath.Join(filepath.Dir(graph), init.External.Location))
		}
	}
	slices.Sort(files)
	return slices.Compact(files)
}
