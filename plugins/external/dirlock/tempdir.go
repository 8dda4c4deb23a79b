package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TempDir is a directory MkdirTemp made for this process, locked until Remove or until the
// process ends.
type TempDir struct {
	// Path is <parent>/<prefix><pid>-<random>.
	Path string
	lock *Lock // on the directory itself
}

// MkdirTemp makes a directory in parent named prefix, this process's pid (for whoever lists
// parent), "-" and a random suffix, and locks it. It shows under that name only once locked:
// it is made under a hidden name ("." + prefix + "new-" + random) and then renamed, so
// SweepTemp never sees an unlocked directory of a live process. The lock is on the
// directory itself, which systemd-tmpfiles also takes as a directory in use and leaves
// alone when it ages the temporary directory.
func MkdirTemp(parent, prefix string) (*TempDir, error) {
	hidden := "." + prefix + "new-"
	made, err := os.MkdirTemp(parent, hidden)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(made)
	if err == nil {
		var ok bool
		if ok, err = tryLock(f); err == nil && !ok {
			err = ErrLocked // nobody else knows the directory yet
		}
	}
	path := filepath.Join(parent, prefix+strconv.Itoa(os.Getpid())+"-"+strings.TrimPrefix(filepath.Base(made), hidden))
	if err == nil {
		err = os.Rename(made, path) // the lock stays with the directory
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		_ = os.RemoveAll(made)
		return nil, fmt.Errorf("lock %s: %w", made, err)
	}
	return &TempDir{Path: path, lock: &Lock{f: f}}, nil
}

// SweepTemp removes the directories of parent named by MkdirTemp with prefix whose lock is
// free: the process that made each is gone. The error joins those that could not be removed
// and those whose lock could not be tried. A parent that cannot be read is left for
// MkdirTemp to report; on a platform without flock nothing is removed.
func SweepTemp(parent, prefix string) error {
	if !Supported {
		return nil
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		f, err := os.Open(dir)
		if err != nil {
			continue // removed meanwhile, or another user's
		}
		ok, err := tryLock(f)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("lock %s: %w", dir, err))
		case ok:
			errs = append(errs, os.RemoveAll(dir)) // a *PathError naming what was left
		}
		_ = f.Close()
	}
	return errors.Join(errs...)
}

// Gone reports whether the directory was removed under its process (by a cleaner of old
// files in the temporary directory): whoever needs one again makes another.
func (d *TempDir) Gone() bool {
	_, err := os.Stat(d.Path)
	return errors.Is(err, os.ErrNotExist)
}

// Remove removes the directory, with what is in it, and releases the lock. It may be called
// more than once.
func (d *TempDir) Remove() error {
	err := os.RemoveAll(d.Path)
	_ = d.lock.Close()
	return err
}
