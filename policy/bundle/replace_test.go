package bundle_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
	"dysl_vla/test/diskfull"
)

func renamed(name string) func(string) error {
	return func(staging string) error {
		m, err := bundle.ReadManifest(staging)
		if err != nil {
			return err
		}
		m.Name = name
		return bundle.Write(staging, m)
	}
}

func TestReplaceChangesTheBundleAndKeepsItsOtherFiles(t *testing.T) {
	dir, _ := copyBundle(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "closedloop"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "closedloop", "report.md"), []byte("last evaluation"), 0o644))

	require.NoError(t, bundle.Replace(dir, renamed("changed")))
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "changed", b.Manifest.Name)
	report, err := os.ReadFile(filepath.Join(dir, "closedloop", "report.md"))
	require.NoError(t, err)
	require.Equal(t, "last evaluation", string(report))
	require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "no staging directory left beside the bundle")
}

// A user's symbolic links in the bundle, at its top and below, come through a Replace as links: a
// distillation's hours of work must not end in "readlink: invalid argument".
func TestReplaceKeepsSymbolicLinks(t *testing.T) {
	dir, _ := copyBundle(t)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(dir), "notes.txt"), []byte("notes"), 0o644))
	require.NoError(t, os.Symlink("../notes.txt", filepath.Join(dir, "notes.txt")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "closedloop"), 0o755))
	require.NoError(t, os.Symlink("../../notes.txt", filepath.Join(dir, "closedloop", "notes.txt")))

	require.NoError(t, bundle.Replace(dir, renamed("changed")))
	for _, link := range []string{"notes.txt", "closedloop/notes.txt"} {
		target, err := os.Readlink(filepath.Join(dir, link))
		require.NoError(t, err, link)
		require.Contains(t, target, "notes.txt")
		notes, err := os.ReadFile(filepath.Join(dir, link))
		require.NoError(t, err, link)
		require.Equal(t, "notes", string(notes))
	}
}

// A graph or manifest that is a link to a file outside the bundle (another bundle's identical
// layer, say) is replaced by the change, never written through: the other file stays as it was.
func TestReplaceDoesNotWriteThroughALink(t *testing.T) {
	dir, m := copyBundle(t)
	outside := t.TempDir()
	for _, name := range []string{m.Files.Layers[0], bundle.ManifestFile} {
		require.NoError(t, os.Rename(filepath.Join(dir, name), filepath.Join(outside, name)))
		require.NoError(t, os.Symlink(filepath.Join(outside, name), filepath.Join(dir, name)))
	}
	before := map[string][]byte{}
	for _, name := range []string{m.Files.Layers[0], bundle.ManifestFile} {
		data, err := os.ReadFile(filepath.Join(outside, name))
		require.NoError(t, err)
		before[name] = data
	}
	require.NoError(t, bundle.Replace(dir, func(staging string) error {
		b := onnxgraph.NewBuilder("another layer")
		b.SetMetadata(bundle.MetaRole, "layer")
		shape := []int64{1, int64(m.Dims.Tokens), int64(m.Dims.Hidden)}
		b.Output(bundle.OutputHidden, b.Input(bundle.InputHidden, onnxgraph.Float, shape...), onnxgraph.Float, shape...)
		if _, err := b.WriteFile(filepath.Join(staging, m.Files.Layers[0]), onnxgraph.WriteOptions{}); err != nil {
			return err
		}
		return renamed("changed")(staging)
	}))
	for name, data := range before {
		after, err := os.ReadFile(filepath.Join(outside, name))
		require.NoError(t, err)
		require.Equal(t, data, after, "%s outside the bundle", name)
		st, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.True(t, st.Mode().IsRegular(), "%s in the bundle is a file of its own now", name)
	}
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "changed", b.Manifest.Name)
}

// The engine caches under .trt/ come through a Replace as the same files, hard-linked, not copied:
// gigabytes on a robot's computer. The graphs, which a change may rewrite, are copies.
func TestReplaceLinksTheEngineCaches(t *testing.T) {
	dir, _ := copyBundle(t)
	engine := filepath.Join(dir, ".trt", "engines", "layer_00.engine")
	require.NoError(t, os.MkdirAll(filepath.Dir(engine), 0o750))
	require.NoError(t, os.WriteFile(engine, []byte("a TensorRT engine"), 0o600))
	require.NoError(t, os.Symlink("engines", filepath.Join(dir, ".trt", "latest")))
	engineBefore, err := os.Stat(engine)
	require.NoError(t, err)
	head := filepath.Join(dir, "head.onnx")
	headBefore, err := os.Stat(head)
	require.NoError(t, err)

	require.NoError(t, bundle.Replace(dir, renamed("changed")))
	engineAfter, err := os.Stat(engine)
	require.NoError(t, err)
	require.True(t, os.SameFile(engineBefore, engineAfter), "the engine is the same file")
	require.Equal(t, os.FileMode(0o600), engineAfter.Mode().Perm())
	cacheDir, err := os.Stat(filepath.Dir(engine))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o750), cacheDir.Mode().Perm())
	link, err := os.Readlink(filepath.Join(dir, ".trt", "latest"))
	require.NoError(t, err)
	require.Equal(t, "engines", link)
	headAfter, err := os.Stat(head)
	require.NoError(t, err)
	require.False(t, os.SameFile(headBefore, headAfter), "a graph is copied")
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "changed", b.Manifest.Name)
}

func TestReplaceLeavesTheBundleWhenTheChangeFails(t *testing.T) {
	broken := errors.New("the run was stopped")
	for name, write := range map[string]func(string) error{
		"write fails": func(staging string) error {
			if err := renamed("half done")(staging); err != nil {
				return err
			}
			return broken
		},
		"result does not validate": func(staging string) error {
			return os.Remove(filepath.Join(staging, "head.onnx"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, _ := copyBundle(t)
			before := diskfull.Snapshot(t, dir)
			err := bundle.Replace(dir, write)
			require.Error(t, err)
			if name == "result does not validate" {
				require.ErrorContains(t, err, "does not validate, "+dir+" is left as it was")
				require.ErrorContains(t, err, "head.onnx")
			}
			require.Equal(t, before, diskfull.Snapshot(t, dir))
			require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "no staging directory left beside the bundle")
		})
	}
}

func TestReplaceMakesAMissingBundleAndFollowsALink(t *testing.T) {
	root := t.TempDir()
	made := filepath.Join(root, "models", "new")
	require.NoError(t, bundle.Replace(made, func(staging string) error {
		return os.CopyFS(staging, os.DirFS(goodDir))
	}))
	_, err := bundle.Load(made)
	require.NoError(t, err)
	info, err := os.Stat(made)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), info.Mode().Perm(), "not MkdirTemp's 0700")

	link := filepath.Join(root, "current")
	require.NoError(t, os.Symlink(made, link))
	require.NoError(t, bundle.Replace(link, renamed("through the link")))
	b, err := bundle.Load(made)
	require.NoError(t, err)
	require.Equal(t, "through the link", b.Manifest.Name, "the directory the link names is replaced")
	target, err := os.Readlink(link)
	require.NoError(t, err)
	require.Equal(t, made, target, "the link itself stays")
}

// A disk that fills while the new bundle is written: the kernel refuses the write part way, and the
// bundle in place is the old one, whole.
func TestReplaceOnAFullDiskLeavesTheBundle(t *testing.T) {
	dir, _ := copyBundle(t)
	before := diskfull.Snapshot(t, dir)
	largest := diskfull.LargestFile(t, dir)
	t.Setenv(goodDirEnv, goodDir)
	tmp, err := diskfull.Run(t, uint64(largest)+1024, dir, func(dir string) error {
		return bundle.Replace(dir, func(staging string) error {
			if err := renamed("too large")(staging); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(staging, "full.onnx"), make([]byte, largest+4096), 0o644)
		})
	})
	require.ErrorContains(t, err, "file too large")
	require.Equal(t, before, diskfull.Snapshot(t, dir))
	require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "no staging directory left beside the bundle")
	require.Empty(t, diskfull.DotFiles(t, tmp), "no temporary file left in TMPDIR")
}

func TestCheckReplaceable(t *testing.T) {
	dir, _ := copyBundle(t)
	require.NoError(t, bundle.CheckReplaceable(dir))
	require.NoError(t, bundle.CheckReplaceable(filepath.Join(dir, "not yet")))
	require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "no staging directory left beside the bundle")
	// Replace makes missing parents (dysl demo's out/model), so they are no reason to refuse; and
	// the check makes none.
	deep := filepath.Join(t.TempDir(), "out", "more", "model")
	require.NoError(t, bundle.CheckReplaceable(deep))
	require.NoDirExists(t, filepath.Dir(filepath.Dir(deep)))
	file := filepath.Join(dir, "manifest.yaml")
	require.ErrorContains(t, bundle.CheckReplaceable(file), "is not a directory")
	require.ErrorContains(t, bundle.CheckReplaceable(filepath.Join(file, "x")), file+"/x: not a directory")
}

// A run killed while it changed the bundle leaves its staging directory beside it; model check
// names it. A finished Replace leaves none.
func TestLeftoverStaging(t *testing.T) {
	dir, _ := copyBundle(t)
	require.NoError(t, bundle.Replace(dir, renamed("once")))
	require.Empty(t, bundle.LeftoverStaging(dir))
	left := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".staging-123")
	require.NoError(t, os.Mkdir(left, 0o700))
	require.NoError(t, os.Mkdir(filepath.Join(filepath.Dir(dir), ".other.staging-1"), 0o700))
	require.Equal(t, []string{left}, bundle.LeftoverStaging(dir))
}

// The last rename fails: with EBUSY (a bind mount) the bundle stays and the new one is kept in the
// staging directory the error names; with EINVAL (a file system without the exchange) two renames
// put the new bundle in place.
func TestReplaceWhenTheExchangeFails(t *testing.T) {
	dir, _ := copyBundle(t)
	before := diskfull.Snapshot(t, dir)
	restore := bundle.SetExchange(func(string, string) error { return syscall.EBUSY })
	err := bundle.Replace(dir, renamed("kept"))
	restore()
	require.ErrorContains(t, err, "device or resource busy; the new bundle, complete and validated, is in ")
	require.Equal(t, before, diskfull.Snapshot(t, dir))
	kept := bundle.LeftoverStaging(dir)
	require.Len(t, kept, 1)
	require.ErrorContains(t, err, kept[0])
	b, err := bundle.Load(kept[0])
	require.NoError(t, err)
	require.Equal(t, "kept", b.Manifest.Name)
	require.NoError(t, os.RemoveAll(kept[0]))

	restore = bundle.SetExchange(func(string, string) error { return syscall.EINVAL })
	defer restore()
	require.NoError(t, bundle.Replace(dir, renamed("two renames")))
	b, err = bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "two renames", b.Manifest.Name)
	require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "neither staging nor the old bundle is left")
}

// A mount point (here /dev/shm, on another device than /dev) is refused before any work.
func TestCheckReplaceableRefusesAMountPoint(t *testing.T) {
	var shm, dev syscall.Stat_t
	if syscall.Stat("/dev/shm", &shm) != nil || syscall.Stat("/dev", &dev) != nil || shm.Dev == dev.Dev {
		t.Skip("/dev/shm is not a mount point here")
	}
	require.ErrorContains(t, bundle.CheckReplaceable("/dev/shm"), "/dev/shm is a mount point")
	require.ErrorContains(t, bundle.Replace("/dev/shm", func(string) error { t.Fatal("staged"); return nil }), "is a mount point")
}

// "dysl distill --model ." from inside the bundle: the staging directory goes beside the bundle, not
// into it.
func TestReplaceOfTheWorkingDirectory(t *testing.T) {
	dir, _ := copyBundle(t)
	t.Chdir(dir)
	require.NoError(t, bundle.CheckReplaceable("."))
	require.NoError(t, bundle.Replace(".", renamed("from inside")))
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "from inside", b.Manifest.Name)
	require.Empty(t, diskfull.DotFiles(t, dir), "nothing staged inside the bundle")
}

// BenchmarkReplace changes nothing in the committed small_relative bundle (6.1 MB, 33 graphs): the
// cost of Replace itself on every distillation checkpoint (copy, validation, sync, exchange).
func BenchmarkReplace(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "small_relative")
	require.NoError(b, os.CopyFS(dir, os.DirFS("../../models/closedloop/small_relative")))
	for b.Loop() {
		require.NoError(b, bundle.Replace(dir, func(string) error { return nil }))
	}
}

// A bind mount on its parent's own device (as systemd's BindPaths or a host-path volume can make)
// is refused before any work too, by its mount ID. It needs the right to mount: root here and in CI.
func TestCheckReplaceableRefusesABindMount(t *testing.T) {
	dir, _ := copyBundle(t)
	source := t.TempDir()
	if err := syscall.Mount(source, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, syscall.Unmount(dir, 0)) })
	var d, parent syscall.Stat_t
	require.NoError(t, syscall.Stat(dir, &d))
	require.NoError(t, syscall.Stat(filepath.Dir(dir), &parent))
	require.Equal(t, parent.Dev, d.Dev, "the bind mount is on its parent's device: the device alone does not tell it")
	require.ErrorContains(t, bundle.CheckReplaceable(dir), dir+" is a mount point")
	require.ErrorContains(t, bundle.Replace(dir, func(string) error { t.Fatal("staged"); return nil }), "is a mount point")
}
