package package_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ortBinding is the Go binding of ONNX Runtime, the module's one cgo dependency outside the ROS 2 glue.
const ortBinding = "github.com/yalue/onnxruntime_go"

// needCgo are the packages allowed to need cgo: the ONNX Runtime backend (and its test helper, which
// imports it), and the executables, which run models (and the ROS 2 node, rclgo), examples included.
var needCgo = []string{"dysl_vla/policy/ortbackend", "dysl_vla/nodes/", "dysl_vla/examples/"}

func allowedCgo(pkg string) bool {
	for _, p := range needCgo {
		if pkg == p || strings.HasPrefix(pkg, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// goCommand runs the go tool at the repository root with extra environment variables.
func goCommand(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool is needed to check the build")
	cmd := exec.Command(gobin, args...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// listPackages returns the module's packages with Go source outside tests, as import paths.
func listPackages(t *testing.T) []string {
	t.Helper()
	out, err := goCommand(t, nil, "list", "-f", "{{if or .GoFiles .CgoFiles}}{{.ImportPath}}{{end}}", "./...")
	require.NoError(t, err, out)
	return strings.Fields(out)
}

// Every package except the ONNX Runtime backend and the executables builds without cgo: the engine,
// the node core, the bridge, the tools' libraries and the evaluation can be used by a pure-Go program,
// cross-built without a C toolchain, and vetted without the ONNX Runtime library.
func TestOnlyTheORTBackendAndTheExecutablesNeedCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module a second time without cgo")
	}
	var pure []string
	for _, pkg := range listPackages(t) {
		if !allowedCgo(pkg) {
			pure = append(pure, pkg)
		}
	}
	require.NotEmpty(t, pure)
	require.Contains(t, pure, "dysl_vla/policy", "the engine is among the packages checked")

	t.Run("the others build with CGO_ENABLED=0", func(t *testing.T) {
		out, err := goCommand(t, []string{"CGO_ENABLED=0"}, append([]string{"build"}, pure...)...)
		if err != nil {
			t.Fatalf("a package outside %v needs cgo; these depend on the ORT binding: %v\n%s",
				needCgo, packagesWith(t, "Deps", ortBinding, pure...), out)
		}
	})
	// The check can fail: the ORT backend itself does not build without cgo.
	t.Run("the ORT backend does not", func(t *testing.T) {
		out, err := goCommand(t, []string{"CGO_ENABLED=0"}, "build", "./policy/ortbackend")
		require.Error(t, err, "the ORT backend built without cgo, so the check above proves nothing:\n%s", out)
		require.Contains(t, out, "onnxruntime_go")
	})
}

// packagesWith returns those of pkgs (go list patterns) whose list field (Imports, Deps) holds want.
func packagesWith(t *testing.T, field, want string, pkgs ...string) []string {
	t.Helper()
	out, err := goCommand(t, nil, append([]string{"list", "-f", "{{.ImportPath}}{{range ." + field + "}} {{.}}{{end}}"}, pkgs...)...)
	require.NoError(t, err, out)
	var found []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if slices.Contains(fields[1:], want) {
			found = append(found, fields[0])
		}
	}
	return found
}

// The ONNX Runtime binding is imported by one package of the library, the backend.
func TestOneLibraryPackageImportsTheORTBinding(t *testing.T) {
	require.Equal(t, []string{"dysl_vla/policy/ortbackend"}, packagesWith(t, "Imports", ortBinding, "./..."))
}
