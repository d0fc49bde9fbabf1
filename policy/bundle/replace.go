package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Replace changes the bundle in dir as one step: write gets a staging directory beside dir that holds
// a copy of what dir holds (nothing when dir does not exist yet), changes it there, and the staged
// bundle takes dir's place only once write returned and the staged bundle validates (Load). The swap
// is one rename(2) that exchanges the two directories, so a reader, or a run stopped at any point
// (an interrupted distillation, a full disk, a power cut), finds either the old bundle whole or the
// new one whole: never new graphs beside an old manifest, never half a graph.
//
// The staging directory is made in dir's parent (created when missing), which must be writable, and
// dir must not be a mount point (a rename cannot move one). When dir is a symbolic link, the
// directory it points to is the one replaced. Files that another process writes into dir while
// write runs are not in the copy and are gone once the new bundle is in place. Should the last
// rename fail all the same, the staging directory is kept and the error names it: it holds the new
// bundle, complete and validated.
//
// Hidden entries of dir (a name starting with "."), such as the TensorRT engine caches ONNX Runtime
// writes under .trt/, are hard-linked into the staging directory, not copied: they are gigabytes on a
// robot's computer, and nothing write does touches them.
func Replace(dir string, write func(staging string) error) error {
	dir, err := resolve(dir)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := refuseMountPoint(dir); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(stagingPattern(dir)))
	if err != nil {
		return fmt.Errorf("bundle: cannot stage the new bundle beside %s: %w", dir, err)
	}
	// Once the swap is done, staging holds the old bundle; either way it goes, unless the swap
	// could not be made and it holds the only copy of the new one.
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(staging)
		}
	}()

	info, err := os.Stat(dir)
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("bundle: %s is not a directory", dir)
	case err == nil:
		if err := stageCopy(dir, staging); err != nil {
			return fmt.Errorf("bundle: copying %s to change it beside it: %w", dir, err)
		}
		if err := os.Chmod(staging, info.Mode().Perm()); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
		if err := os.Chmod(staging, 0o755); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	default:
		return fmt.Errorf("bundle: %w", err)
	}

	if err := write(staging); err != nil {
		return err
	}
	if _, err := Load(staging); err != nil {
		return fmt.Errorf("bundle: the changed bundle does not validate, %s is left as it was: %w", dir, err)
	}
	if err := syncTree(staging); err != nil {
		return err
	}
	swapped, err := swapInto(staging, dir)
	if err != nil && !swapped {
		keep = true
		return fmt.Errorf("%w; the new bundle, complete and validated, is in %s", err, staging)
	}
	return err
}

// stageCopy copies what dir holds into staging, its hidden entries hard-linked (copied where a link
// cannot be made: another file system).
func stageCopy(dir, staging string) error {
	if err := os.CopyFS(staging, visible{os.DirFS(dir)}); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			if err := linkTree(filepath.Join(dir, e.Name()), filepath.Join(staging, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// visible is a directory tree without the hidden entries of its top directory. It passes on
// fs.ReadLinkFS, so that os.CopyFS copies a user's symbolic link (a notes file linked into the
// bundle) as a link; without it CopyFS fails on the first one, after the change's work is done.
type visible struct{ fs.FS }

func (v visible) ReadLink(name string) (string, error)   { return fs.ReadLink(v.FS, name) }
func (v visible) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(v.FS, name) }

func (v visible) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(v.FS, name)
	if name != "." {
		return entries, err
	}
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") }), err
}

// linkTree makes at dst a tree of directories like src's, whose files are hard links to src's.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			err := os.Link(path, target)
			if errors.Is(err, syscall.EXDEV) {
				return copyFile(path, target, info.Mode().Perm())
			}
			return err
		default:
			return nil // sockets and devices are nothing a bundle holds
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// resolve is the absolute path of the directory dir names, through a symbolic link: the directory
// Replace replaces, and whose parent takes the staging directory (the parent of "." is not ".").
func resolve(dir string) (string, error) {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return filepath.Abs(dir)
}

// refuseMountPoint says why dir cannot be replaced when it is a mount point: a volume mounted into a
// container, or a bind mount.
func refuseMountPoint(dir string) error {
	if !isMountPoint(dir) {
		return nil // or not there yet
	}
	return fmt.Errorf("%s is a mount point, and a changed bundle takes its place by a rename, which a mount point refuses: "+
		"keep the bundle in a directory inside the mount", dir)
}

// isMountPoint tells a mount point by the kernel's mount IDs (statx, Linux 5.8 and later), which
// see a bind mount on its parent's own device too; without them, by a device other than its
// parent's, and a same-device bind mount is only found by the last rename, when Replace keeps the
// new bundle for the user.
func isMountPoint(dir string) bool {
	parent := filepath.Dir(dir)
	if inner, ok := mountID(dir); ok {
		if outer, ok := mountID(parent); ok {
			return inner != outer
		}
	}
	var d, p syscall.Stat_t
	return syscall.Stat(dir, &d) == nil && syscall.Stat(parent, &p) == nil && d.Dev != p.Dev
}

// mountID is the ID of the mount path lies on, when the kernel says (statx's STATX_MNT_ID).
func mountID(path string) (uint64, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_MNT_ID, &st); err != nil || st.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return st.Mnt_id, true
}

// stagingPattern is the glob of the staging directories Replace makes for the bundle dir (resolved).
func stagingPattern(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".staging-*")
}

// LeftoverStaging lists the staging directories of Replace beside dir: those of a run that was
// killed while it changed the bundle (or of one changing it now). They are not part of the bundle.
func LeftoverStaging(dir string) []string {
	dir, err := resolve(dir)
	if err != nil {
		return nil
	}
	found, _ := filepath.Glob(stagingPattern(dir)) // the only error is a malformed pattern
	return found
}

// CheckReplaceable says why Replace could not put a bundle in dir, before the work that makes it:
// dir is not a directory, or is a mount point, or no directory can be made beside it.
func CheckReplaceable(dir string) error {
	dir, err := resolve(dir)
	if err != nil {
		return err
	}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := refuseMountPoint(dir); err != nil {
		return err
	}
	// Replace makes a missing parent: what must take a new directory is its nearest existing ancestor.
	parent := filepath.Dir(dir)
	for {
		if _, err := os.Stat(parent); !errors.Is(err, os.ErrNotExist) || filepath.Dir(parent) == parent {
			break
		}
		parent = filepath.Dir(parent)
	}
	trial, err := os.MkdirTemp(parent, filepath.Base(stagingPattern(dir)))
	if err != nil {
		return fmt.Errorf("a new bundle is staged beside %s, in %s: %w", dir, parent, err)
	}
	return os.Remove(trial)
}

// swapInto puts staging at dir: one exchange of the two names when dir exists (RENAME_EXCHANGE, which
// ext4, xfs, btrfs and tmpfs support), a plain rename when it does not. On a file system without the
// exchange, the old bundle steps aside first and a reader may find no bundle for that moment.
// swapped says whether the new bundle is at dir (an error then is of the sync that follows).
func swapInto(staging, dir string) (swapped bool, err error) {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(staging, dir); err != nil {
			return false, fmt.Errorf("bundle: %w", err)
		}
		return true, syncPath(filepath.Dir(dir))
	}
	err = exchange(staging, dir)
	if err == nil {
		return true, syncPath(filepath.Dir(dir))
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return false, fmt.Errorf("bundle: putting the new bundle in place of %s: %w", dir, err)
	}
	aside := staging + ".old"
	if err := os.Rename(dir, aside); err != nil {
		return false, fmt.Errorf("bundle: moving the old bundle %s aside: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return false, fmt.Errorf("bundle: %w (the old bundle is in %s)", err, aside)
	}
	// The deferred removal in Replace takes staging; the old bundle is under another name here.
	if err := syncPath(filepath.Dir(dir)); err != nil {
		return true, err
	}
	return true, os.RemoveAll(aside)
}

// exchange swaps the two paths in one step; a variable so that a test can make it fail.
var exchange = func(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// syncTree makes every file and directory under root durable before the swap: the writers in the
// staging directory (a manifest, graphs, the copy of the old bundle) write without syncing, and
// without this a power cut after the swap could find the new names with empty files behind them.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !(d.IsDir() || d.Type().IsRegular()) {
			return err // symbolic links have nothing of their own to sync
		}
		return syncPath(path)
	})
}

// syncPath makes a file's data, or a directory's entries, durable: after a power cut the renames are
// there with the files they name (renameio syncs each file's data, not the directory).
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("bundle: syncing %s: %w", path, err)
	}
	return nil
}
