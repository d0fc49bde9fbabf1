package msggen

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Set is every interface found in a definition tree, resolved: each nested
// message a field names is in the set.
type Set struct {
	// Interfaces is sorted by full name.
	Interfaces []*Interface
	byName     map[string]*Interface
}

// Lookup returns the interface with the full ROS name, e.g.
// "lifecycle_msgs/srv/GetState_Request".
func (s *Set) Lookup(fullName string) (*Interface, bool) {
	it, ok := s.byName[fullName]
	return it, ok
}

// Load reads a definition tree laid out as the msgs package carries it:
// msg/*.msg and srv/*.srv of ownPackage, and upstream/<pkg>/msg/*.msg and
// upstream/<pkg>/srv/*.srv of the ROS packages it uses.
func Load(fsys fs.FS, ownPackage string) (*Set, error) {
	s := &Set{byName: map[string]*Interface{}}
	add := func(it *Interface) error {
		if _, dup := s.byName[it.FullName()]; dup {
			return fmt.Errorf("%s is defined twice", it.FullName())
		}
		s.byName[it.FullName()] = it
		s.Interfaces = append(s.Interfaces, it)
		return nil
	}
	for _, pattern := range []string{"msg/*.msg", "srv/*.srv", "upstream/*/msg/*.msg", "upstream/*/srv/*.srv"} {
		files, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			dir, base := path.Split(file)
			namespace := path.Base(dir)
			pkg := ownPackage
			if strings.HasPrefix(file, "upstream/") {
				pkg = strings.Split(file, "/")[1]
			}
			name := strings.TrimSuffix(base, path.Ext(base))
			if !packageNamePattern.MatchString(pkg) || !typeNamePattern.MatchString(name) {
				return nil, fmt.Errorf("%s: expected <package>/%s/<TypeName>%s", file, namespace, path.Ext(base))
			}
			raw, err := fs.ReadFile(fsys, file)
			if err != nil {
				return nil, err
			}
			text := string(raw)
			if namespace == "msg" {
				it, err := parseMessage(file, pkg, namespace, name, text)
				if err != nil {
					return nil, err
				}
				if err := add(it); err != nil {
					return nil, err
				}
				continue
			}
			request, response, err := splitService(file, text)
			if err != nil {
				return nil, err
			}
			for _, half := range []struct{ suffix, text string }{{"_Request", request}, {"_Response", response}} {
				it, err := parseMessage(file, pkg, namespace, name+half.suffix, half.text)
				if err != nil {
					return nil, err
				}
				if err := add(it); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.Slice(s.Interfaces, func(i, j int) bool { return s.Interfaces[i].FullName() < s.Interfaces[j].FullName() })
	for _, it := range s.Interfaces {
		for _, f := range it.Fields {
			if f.Type.Primitive != "" {
				continue
			}
			if _, ok := s.byName[f.Type.Package+"/msg/"+f.Type.Message]; !ok {
				return nil, fmt.Errorf("%s field %s: type %s has no .msg file in the tree", it.FullName(), f.Name, f.Type.Written)
			}
		}
	}
	return s, nil
}
