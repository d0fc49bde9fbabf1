package package_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// The generated blocks of docs/*.md (the package table of ARCHITECTURE.md, the parameter and launch
// tables of ROS.md) are rewritten from the code with
//
//	go test ./test/package -run 'TestArchitectureDoc|TestROSDoc' -update
var update = flag.Bool("update", false, "rewrite the generated blocks of docs/*.md")

const module = "dysl_vla"

// goPackage is what `go list -json` says of a package, as far as these tests need it.
type goPackage struct {
	ImportPath   string
	Name         string
	Doc          string
	GoFiles      []string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// rel is the package's directory relative to the repository root.
func (p goPackage) rel() string {
	return strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
}

// allImports are the imports of the package and of its tests.
func (p goPackage) allImports() []string {
	return slices.Concat(p.Imports, p.TestImports, p.XTestImports)
}

// listed is the output of `go list -json ./...`, run once for all tests.
var listed struct {
	sync.Once
	out string
	err error
}

// goPackages runs `go list -json ./...` at the repository root. The rclgo-gen output that a colcon
// build leaves in nodes/dysl_vla_node/rosgen is not part of the module's code.
func goPackages(t *testing.T) []goPackage {
	t.Helper()
	listed.Do(func() { listed.out, listed.err = goCommand(t, nil, "list", "-json", "./...") })
	out, err := listed.out, listed.err
	require.NoError(t, err, out)
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		if strings.Contains(p.ImportPath, "/rosgen/") || strings.HasSuffix(p.ImportPath, "/rosgen") {
			continue
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func hasPrefixPath(importPath, prefix string) bool {
	return importPath == prefix || strings.HasPrefix(importPath, prefix+"/")
}

// The import rules of docs/ARCHITECTURE.md (the ONNX Runtime one is TestOneLibraryPackageImportsTheORTBinding).
func TestImportRules(t *testing.T) {
	pkgs := goPackages(t)
	byPath := map[string]goPackage{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}

	t.Run("skipping imports nothing of the project and does no I/O", func(t *testing.T) {
		p, ok := byPath[module+"/skipping"]
		require.True(t, ok)
		for _, imp := range p.Imports {
			require.False(t, hasPrefixPath(imp, module), "skipping imports %s", imp)
			for _, io := range []string{"os", "io", "net", "time", "syscall", "log"} {
				require.False(t, hasPrefixPath(imp, io), "skipping imports %s: it must take time and data as arguments", imp)
			}
		}
	})

	t.Run("only mavbridge imports gomavlib", func(t *testing.T) {
		for _, p := range pkgs {
			if hasPrefixPath(p.ImportPath, module+"/mavbridge") {
				continue
			}
			for _, imp := range p.allImports() {
				require.False(t, hasPrefixPath(imp, "github.com/bluenviron/gomavlib"), "%s imports %s", p.ImportPath, imp)
			}
		}
	})

	t.Run("nothing imports nodes", func(t *testing.T) {
		for _, p := range pkgs {
			for _, imp := range p.allImports() {
				if imp == p.ImportPath {
					continue // the package's own external tests
				}
				require.False(t, hasPrefixPath(imp, module+"/nodes"), "%s imports %s", p.ImportPath, imp)
			}
		}
	})

	t.Run("no grab-bag package names", func(t *testing.T) {
		for _, p := range pkgs {
			require.NotContains(t, []string{"util", "utils", "common", "helpers", "misc"}, p.Name, p.ImportPath)
		}
	})
}

// Only files built with the ros2 tag import rclgo or the bindings rclgo-gen writes: everything else
// builds and tests without a ROS installation.
func TestOnlyROS2TaggedFilesImportRclgo(t *testing.T) {
	root := repoFile(t, ".")
	rclgoModule := requiredModule(t, "rclgo")
	checked := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "rosgen", "build", "install", "log", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rclgo := false
		for _, imp := range f.Imports {
			v, _ := strconv.Unquote(imp.Path.Value)
			if hasPrefixPath(v, rclgoModule) || strings.Contains(v, "/rosgen/") {
				rclgo = true
			}
		}
		if !rclgo {
			return nil
		}
		checked++
		rel, _ := filepath.Rel(root, p)
		require.True(t, needsTag(f.Comments, f.Package, "ros2"), "%s imports rclgo but builds without the ros2 tag", rel)
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, checked, "no file imports rclgo: the node's glue moved?")
}

// requiredModule is the path of the module go.mod requires whose last element is name, so the check
// follows the dependency go.mod pins rather than a copy of its path.
func requiredModule(t *testing.T, name string) string {
	t.Helper()
	body, err := os.ReadFile(repoFile(t, "go.mod"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) == 2 && path.Base(fields[0]) == name {
			return fields[0]
		}
	}
	t.Fatalf("go.mod requires no module named %s", name)
	return ""
}

// needsTag reports whether the file's //go:build line excludes it from builds without tag.
func needsTag(comments []*ast.CommentGroup, pkg token.Pos, tag string) bool {
	for _, g := range comments {
		if g.Pos() >= pkg {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			return !expr.Eval(func(t string) bool { return t != tag && t != "ignore" })
		}
	}
	return false
}

// Every package of the module says what it is in a package doc comment. Directories with only test
// files are not packages of the library.
func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range goPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		assert.NotEmpty(t, p.Doc, "package %s has no package doc comment", p.ImportPath)
	}
}

// usersOfShared are the files that use the sibling ../shared checkout, which development machines and
// CI have beside the repository (the ROS 2 installation, the rosbag2 recordings); each says what it
// needs from there. Nothing else may refer to it.
var usersOfShared = map[string]string{
	".ci/run":                   "installs ROS 2 Humble on CI machines that lack /opt/ros/humble",
	"scripts/test-ros2.sh":      "how the development machines install ROS 2 Humble",
	"bag/fixtures_test.go":      "reads real rosbag2 recordings when they are present",
	"test/package/docs_test.go": "this test",
}

var (
	sharedPath = regexp.MustCompile(`(\.\./)+shared\b|\bshared/(docs|seed|fixtures|ros2)\b`)
	// A path ending in .md, as comments and READMEs name documents.
	mdPath = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
	// Markdown links with a relative target.
	mdLink = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)\s]*)?\)`)
)

// producedDocs are .md names that the code and scripts write (reports), wherever they are told to.
var producedDocs = []string{"report.md", "evaluation.md"}

// Comments, READMEs, docs and scripts point only inside the repository: a clone holds everything they
// name. Every document path that a tracked text file names exists in the repository, no file but the
// users of ../shared mentions it, and every relative Markdown link resolves.
func TestDocumentReferencesStayInTheRepository(t *testing.T) {
	root, files := cloneFiles(t)
	tracked := map[string]bool{}
	for _, f := range files {
		tracked[f] = true
		for dir := path.Dir(f); dir != "."; dir = path.Dir(dir) {
			tracked[dir] = true
		}
	}
	exists := func(p string) bool { return tracked[path.Clean(p)] }
	for _, f := range files {
		if f == "go.sum" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted in the working tree, not yet committed
			}
			require.NoError(t, err)
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			continue // binary
		}
		text := string(raw)
		lines := strings.Split(text, "\n")
		for i, line := range lines {
			where := fmt.Sprintf("%s:%d: %s", f, i+1, strings.TrimSpace(line))
			if _, ok := usersOfShared[f]; !ok {
				assert.False(t, sharedPath.MatchString(line), "%s\nrefers to ../shared, which a clone does not have", where)
			}
			if f == "test/package/docs_test.go" {
				continue
			}
			for _, m := range mdPath.FindAllString(line, -1) {
				m = strings.TrimPrefix(m, "./")
				if slices.Contains(producedDocs, path.Base(m)) || strings.HasPrefix(m, "//") {
					continue
				}
				if exists(m) || exists(path.Join(path.Dir(f), m)) {
					continue
				}
				assert.Failf(t, "document not in the repository", "%s\nnames %q, which is neither a repository path nor one relative to %s", where, m, path.Dir(f))
			}
			if strings.HasSuffix(f, ".md") {
				for _, l := range mdLink.FindAllStringSubmatch(line, -1) {
					target := l[1]
					if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
						continue
					}
					assert.True(t, exists(path.Join(path.Dir(f), target)), "%s\nlinks to %q, which does not resolve inside the repository", where, target)
				}
			}
		}
	}
}

// replaceGenerated checks that the block NAME of the Markdown file rel holds want, or with -update
// writes it there.
func replaceGenerated(t *testing.T, rel, name, want string) {
	t.Helper()
	file := repoFile(t, rel)
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	text := string(raw)
	beginRe := regexp.MustCompile(`<!-- BEGIN GENERATED: ` + regexp.QuoteMeta(name) + `\b[^>]*-->\n`)
	end := "<!-- END GENERATED: " + name + " -->"
	loc := beginRe.FindStringIndex(text)
	require.NotNil(t, loc, "%s has no <!-- BEGIN GENERATED: %s --> line", rel, name)
	stop := strings.Index(text[loc[1]:], end)
	require.GreaterOrEqual(t, stop, 0, "%s has no %s line", rel, end)
	got := text[loc[1] : loc[1]+stop]
	if *update {
		if got != want {
			text = text[:loc[1]] + want + text[loc[1]+stop:]
			require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
		}
		return
	}
	if got != want {
		t.Errorf("%s: the generated block %q is stale (rerun with -update); lines that should be there (+) and should not (-):\n%s",
			rel, name, lineDiff(got, want))
	}
}

// lineDiff lists the lines of want missing from got (+) and the lines of got not in want (-).
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

// mdCell escapes a table cell.
func mdCell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

// The package table of docs/ARCHITECTURE.md is the module as `go list` sees it: each package at its
// level (1 + the highest level it imports from the project; 0 for none), what it imports from the
// project, and its package synopsis.
func TestArchitectureDocPackageTable(t *testing.T) {
	pkgs := goPackages(t)
	project := map[string]goPackage{}
	for _, p := range pkgs {
		project[p.ImportPath] = p
	}
	level := map[string]int{}
	var levelOf func(path string, seen []string) int
	levelOf = func(path string, seen []string) int {
		if l, ok := level[path]; ok {
			return l
		}
		require.NotContains(t, seen, path, "import cycle through %v", seen)
		l := 0
		for _, imp := range project[path].Imports {
			if _, ok := project[imp]; ok {
				l = max(l, 1+levelOf(imp, append(seen, path)))
			}
		}
		level[path] = l
		return l
	}
	type row struct {
		level             int
		pkg, imports, doc string
	}
	var rows []row
	for _, p := range pkgs {
		if len(p.GoFiles) == 0 {
			continue // test-only directories
		}
		var imports []string
		for _, imp := range p.Imports {
			if q, ok := project[imp]; ok {
				imports = append(imports, "`"+q.rel()+"`")
			}
		}
		rows = append(rows, row{levelOf(p.ImportPath, nil), "`" + p.rel() + "`", strings.Join(imports, ", "), p.Doc})
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.level != b.level {
			return a.level - b.level
		}
		return strings.Compare(a.pkg, b.pkg)
	})
	var b strings.Builder
	b.WriteString("| level | package | imports from the project | what it is (its package doc) |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", r.level, r.pkg, r.imports, mdCell(r.doc))
	}
	replaceGenerated(t, "docs/ARCHITECTURE.md", "packages", b.String())
}

// The parameter table of docs/ROS.md is what the node declares: name, type, default, range,
// read-only or live, description. TestParamsFileDeclaresEveryParameterWithItsDefault holds the params
// file to the same declarations.
func TestROSDocParameters(t *testing.T) {
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, func() time.Time { return time.Unix(0, 0) })
	require.NoError(t, err)
	names := nodecore.ParameterNames()
	values, err := srv.Get(names...)
	require.NoError(t, err)
	descs, err := srv.Describe(names...)
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString("| parameter | type | default | range | changes | description |\n|---|---|---|---|---|---|\n")
	for i, name := range names {
		d := descs[i]
		var rng []string
		for _, r := range d.IntegerRange {
			s := fmt.Sprintf("[%d, %d]", r.FromValue, r.ToValue)
			if r.Step > 1 {
				s += fmt.Sprintf(" step %d", r.Step)
			}
			rng = append(rng, s)
		}
		for _, r := range d.FloatingPointRange {
			s := fmt.Sprintf("[%s, %s]", fmtFloat(r.FromValue), fmtFloat(r.ToValue))
			if r.Step != 0 {
				s += " step " + fmtFloat(r.Step)
			}
			rng = append(rng, s)
		}
		if d.AdditionalConstraints != "" {
			rng = append(rng, d.AdditionalConstraints)
		}
		changes := "live"
		if d.ReadOnly {
			changes = "read-only"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s |\n", name, values[i].Type.String(),
			paramserver.FormatValue(values[i]), mdCell(strings.Join(rng, "; ")), changes, mdCell(d.Description))
	}
	replaceGenerated(t, "docs/ROS.md", "parameters", b.String())
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

var launchArgument = regexp.MustCompile(`(?s)DeclareLaunchArgument\(\s*'([^']+)'\s*(?:,\s*default_value=([^,]+?))?\s*,\s*description=\s*'([^']*)'\s*\)`)

// The launch argument table of docs/ROS.md is what launch/dysl_vla.launch.py declares.
func TestROSDocLaunchArguments(t *testing.T) {
	raw, err := os.ReadFile(repoFile(t, "launch/dysl_vla.launch.py"))
	require.NoError(t, err)
	matches := launchArgument.FindAllStringSubmatch(string(raw), -1)
	require.Equal(t, strings.Count(string(raw), "DeclareLaunchArgument("), len(matches),
		"every DeclareLaunchArgument(...) call is understood")
	var b strings.Builder
	b.WriteString("| argument | default | description |\n|---|---|---|\n")
	for _, m := range matches {
		def := strings.TrimSpace(m[2])
		switch {
		case def == "":
			def = "(required)"
		case def == "FROM_PARAMS_FILE":
			def = "(`params_file`'s value)"
		case strings.HasPrefix(def, "'"):
			def = "`" + strings.Trim(def, "'") + "`"
			if def == "``" {
				def = `""`
			}
		default:
			def = "the installed `params/dysl_vla.yaml`" // a substitution, such as the package's share directory
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m[1], def, mdCell(m[3]))
	}
	replaceGenerated(t, "docs/ROS.md", "launch", b.String())
}
