package bundle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Replace changes the bundle in dir as one step: write gets a staging directory beside dir that holds
// a copy of what dir holds (nothing when dir does not exist yet), changes it there, and the staged
// bundle takes dir's place only once write returned and the staged bundle validates (Load). The swap
// is one rename(2) that exchanges the two directories, so a reader, or a run stopped at any point
// (an interrupted distillation, a full disk, a power cut), finds either the old bundle whole or the
// new one whole: never new graphs beside an old manifest, never half a graph.
//
// The staging directory is made in dir's parent (created when missing), which must be writable. When dir is a symbolic
// link, the directory it points to is the one replaced. Files that another process writes into dir
// while write runs are not in the copy and are gone once the new bundle is in place.
func Replace(dir string, write func(staging string) error) error {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bundle: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(stagingPattern(dir)))
	if err != nil {
		return fmt.Errorf("bundle: cannot stage the new bundle beside %s: %w", dir, err)
	}
	// Once the swap is done, staging holds the old bundle; either way it goes.
	defer os.RemoveAll(staging)

	info, err := os.Stat(dir)
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("bundle: %s is not a directory", dir)
	case err == nil:
		if err := os.CopyFS(staging, os.DirFS(dir)); err != nil {
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
	if err := syncDir(staging); err != nil {
		return err
	}
	return swapInto(staging, dir)
}

// stagingPattern is the glob of the staging directories Replace makes for the bundle dir.
func stagingPattern(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(filepath.Clean(dir))+".staging-*")
}

// LeftoverStaging lists the staging directories of Replace beside dir: those of a run that was
// killed while it changed the bundle (or of one changing it now). They are not part of the bundle.
func LeftoverStaging(dir string) []string {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	found, _ := filepath.Glob(stagingPattern(dir)) // the only error is a malformed pattern
	return found
}

// CheckReplaceable says why Replace could not put a bundle in dir, before the work that makes it: a
// directory beside dir cannot be made, or dir is there and cannot be read.
func CheckReplaceable(dir string) error {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	trial, err := os.MkdirTemp(parent, filepath.Base(stagingPattern(dir)))
	if err != nil {
		return fmt.Errorf("a new bundle is staged beside %s, in %s: %w", dir, parent, err)
	}
	return os.Remove(trial)
}

// swapInto puts staging at dir: one exchange of the two names when dir exists (RENAME_EXCHANGE, which
// ext4, xfs, btrfs and tmpfs support), a plain rename when it does not. On a file system without the
// exchange, the old bundle steps aside first and a reader may find no bundle for that moment.
func swapInto(staging, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return renameSynced(staging, dir)
	}
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if err == nil {
		return syncDir(filepath.Dir(dir))
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("bundle: putting the new bundle in place of %s: %w", dir, err)
	}
	aside := staging + ".old"
	if err := os.Rename(dir, aside); err != nil {
		return fmt.Errorf("bundle: moving the old bundle %s aside: %w", dir, err)
	}
	if err := renameSynced(staging, dir); err != nil {
		return fmt.Errorf("%w (the old bundle is in %s)", err, aside)
	}
	// The deferred removal in Replace takes staging; the old bundle is under another name here.
	return os.RemoveAll(aside)
}

func renameSynced(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return syncDir(filepath.Dir(to))
}

// syncDir makes a directory's entries durable, so that after a power cut the renames are there with
// the files they name (renameio syncs each file's data, not the directory).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("bundle: syncing %s: %w", dir, err)
	}
	return nil
}
