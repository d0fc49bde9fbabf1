//go:build ros2

package ros2test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// package.xml depends on every ROS package whose bindings the build generates for the node (rclgo-gen
// writes one folder of nodes/dysl_vla_node/rosgen per package): rosdep installs only what it names, and
// lifecycle_msgs and rosgraph_msgs were missing.
func TestPackageXMLDependsOnEveryGeneratedBinding(t *testing.T) {
	root := repoRoot(t)
	pkg, err := os.ReadFile(filepath.Join(root, "package.xml"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "nodes", "dysl_vla_node", "rosgen"))
	if err != nil {
		t.Fatalf("%v: colcon build generates the bindings (scripts/test-ros2.sh runs it)", err)
	}
	found := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		found++
		if !strings.Contains(string(pkg), "<depend>"+e.Name()+"</depend>") {
			t.Errorf("package.xml has no <depend>%s</depend>, though the node's bindings use it", e.Name())
		}
	}
	if found == 0 {
		t.Fatal("no generated bindings under nodes/dysl_vla_node/rosgen")
	}
}
