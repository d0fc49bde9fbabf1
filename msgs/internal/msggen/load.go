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
// upstream/<pkg>/srv/*.srv of the ROS packages it uses. When fixtureDir is
// not empty, the tree below it (same layout) adds the test-only types,
// marked Fixture.
func Load(fsys fs.FS, ownPackage, fixtureDir string) (*Set, error) {
	s := &Set{byName: map[string]*Interface{}}
	if err := s.load(fsys, ownPackage, false); err != nil {
		return nil, err
	}
	if fixtureDir != "" {
		sub, err := fs.Sub(fsys, fixtureDir)
		if err != nil {
			return nil, err
		}
		if err := s.load(sub, ownPackage, true); err != nil {
			return nil, fmt.Errorf("%s: %w", fixtureDir, err)
		}
	}
	sort.Slice(s.Interfaces, func(i, j int) bool { return s.Interfaces[i].FullName() < s.Interfaces[j].FullName() })
	for _, it := range s.Interfaces {
		for _, f := range it.Fields {
			if f.Type.Primitive != "" {
				continue
			}
			nested, ok := s.byName[messageRef(f.Type)]
			if !ok {
				return nil, fmt.Errorf("%s field %s: type %s has no .msg file in the tree", it.FullName(), f.Name, f.Type.Written)
			}
			if nested.Fixture && !it.Fixture {
				return nil, fmt.Errorf("%s field %s: type %s is a test fixture", it.FullName(), f.Name, f.Type.Written)
			}
		}
	}
	return s, nil
}

func (s *Set) load(fsys fs.FS, ownPackage string, fixture bool) error {
	add := func(it *Interface) error {
		if _, dup := s.byName[it.FullName()]; dup {
			return fmt.Errorf("%s is defined twice", it.FullName())
		}
		it.Fixture = fixture
		s.byName[it.FullName()] = it
		s.Interfaces = append(s.Interfaces, it)
		return nil
	}
	for _, pattern := range []string{"msg/*.msg", "srv/*.srv", "upstream/*/msg/*.msg", "upstream/*/srv/*.srv"} {
		files, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
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
				return fmt.Errorf("%s: expected <package>/%s/<TypeName>%s", file, namespace, path.Ext(base))
			}
			raw, err := fs.ReadFile(fsys, file)
			if err != nil {
				return err
			}
			text := string(raw)
			if namespace == "msg" {
				it, err := parseMessage(file, pkg, namespace, name, text)
				if err != nil {
					return err
				}
				if err := add(it); err != nil {
					return err
				}
				continue
			}
			request, response, err := splitService(file, text)
			if err != nil {
				return err
			}
			for _, half := range []struct{ suffix, text string }{{"_Request", request}, {"_Response", response}} {
				it, err := parseMessage(file, pkg, namespace, name+half.suffix, half.text)
				if err != nil {
					return err
				}
				if err := add(it); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
