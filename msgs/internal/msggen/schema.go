package msggen

import (
	"fmt"
	"sort"
	"strings"
)

// dependencies lists the message types a definition refers to, as written
// and qualified with the package when bare ("KeyValue" in diagnostic_msgs
// is "diagnostic_msgs/KeyValue"), sorted: the order in which rosbag2
// appends them to a schema.
func (it *Interface) dependencies() []string {
	seen := map[string]bool{}
	for _, f := range it.Fields {
		if f.Type.Primitive != "" {
			continue
		}
		name := f.Type.Written
		if !strings.Contains(name, "/") {
			name = it.Package + "/" + name
		}
		seen[name] = true
	}
	deps := make([]string, 0, len(seen))
	for dep := range seen {
		deps = append(deps, dep)
	}
	sort.Strings(deps)
	return deps
}

// schemaPart is one section of a ros2msg full definition: the text of a
// type, behind a separator naming it as referenced (Header "" for the
// top-level type).
type schemaPart struct {
	Header string
	Type   *Interface
}

// fullDefinition lays out the ros2msg schema of it the way rosbag2 does: the
// type's own text, then each dependency not yet written, depth first in
// sorted order, each behind a separator line and "MSG: <name>".
func (s *Set) fullDefinition(it *Interface) ([]schemaPart, error) {
	parts := []schemaPart{{Type: it}}
	written := map[string]bool{}
	var appendDeps func(t *Interface, depth int) error
	appendDeps = func(t *Interface, depth int) error {
		if depth > 50 {
			return fmt.Errorf("definition of %s nests deeper than 50 levels", it.FullName())
		}
		for _, dep := range t.dependencies() {
			if written[dep] {
				continue
			}
			written[dep] = true
			ft, err := parseFieldType(dep, t.Package)
			if err != nil {
				return err
			}
			nested, ok := s.byName[ft.Package+"/msg/"+ft.Message]
			if !ok {
				return fmt.Errorf("%s refers to %s, which has no .msg file here", t.FullName(), dep)
			}
			parts = append(parts, schemaPart{Header: dep, Type: nested})
			if err := appendDeps(nested, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := appendDeps(it, 0); err != nil {
		return nil, err
	}
	return parts, nil
}
