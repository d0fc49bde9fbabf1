//go:build !ros2

package main

import (
	"strings"
	"testing"
)

// The binary built without ROS points to the one build that runs: colcon, then a sourced install. It
// used to offer `go build -tags ros2` as well, whose binary cannot load the package's type support.
func TestBuildHelpNamesColconAndTheSourcedInstall(t *testing.T) {
	for _, want := range []string{"colcon build --packages-select dysl_vla", "source install/setup.bash"} {
		if !strings.Contains(buildHelp, want) {
			t.Errorf("the help does not say %q:\n%s", want, buildHelp)
		}
	}
	if strings.Contains(buildHelp, "go build") {
		t.Errorf("the help offers a go build, whose binary cannot run without a sourced colcon install:\n%s", buildHelp)
	}
}
