//go:build linux || darwin || freebsd || netbsd || dragonfly || illumos

package external

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// socketEnv names the socket directory to a plugin process: go-plugin's server makes its
// socket there instead of in the temporary directory.
const socketEnv = plugin.EnvUnixSocketDir

// socketDirPrefix starts the name of a worker's socket directory in the temporary directory,
// followed by the worker's pid (for whoever lists it). It is short: a socket's path is
// limited to about 100 bytes, and macOS's temporary directory takes half of them.
const socketDirPrefix = "rmqc-sock-"

// newDirPrefix names a socket directory until it is locked: a worker sweeping never sees an
// unlocked directory of a live worker.
const newDirPrefix = ".rmqc-sock-new-"

// socketDir is the directory a worker's plugin processes make their go-plugin sockets in. A
// plugin's socket is removed when it closes its listener, which a process killed with SIGKILL
// (a hang, a stop past its grace period, the worker's death) never does: in a directory of
// its own, the worker removes what is left at Close, and the directory of a worker that could
// not (killed itself) is removed by the next worker to start. The worker holds a lock on the
// directory while it lives: the kernel releases it however the worker dies, where a pid may
// since have been taken by another process or belong to another pid namespace.
type socketDir struct {
	path string
	lock *os.File // the directory, locked
}

// openSocketDir removes the socket directories of workers no longer running and makes this
// worker's.
func openSocketDir(log *slog.Logger) (*socketDir, error) {
	tmp := os.TempDir()
	sweepSocketDirs(tmp, log)
	made, err := os.MkdirTemp(tmp, newDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("plugin socket directory: %w", err)
	}
	f, err := os.Open(made)
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	path := filepath.Join(tmp, socketDirPrefix+strconv.Itoa(os.Getpid())+"-"+strings.TrimPrefix(filepath.Base(made), newDirPrefix))
	if err == nil {
		err = os.Rename(made, path) // the lock stays with the directory
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		_ = os.RemoveAll(made)
		return nil, fmt.Errorf("plugin socket directory %s: %w", made, err)
	}
	return &socketDir{path: path, lock: f}, nil
}

// sweepSocketDirs removes the socket directories in tmp whose lock is free: their worker is
// gone, and so are its plugins (they exit when their parent does).
func sweepSocketDirs(tmp string, log *slog.Logger) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return // MkdirTemp then says what is wrong with tmp
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), socketDirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		f, err := os.Open(dir)
		if err != nil {
			continue // removed meanwhile, or another user's
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			if err := os.RemoveAll(dir); err != nil {
				log.Warn("could not remove the plugin sockets of a worker no longer running", "dir", dir, "err", err)
			}
		case !errors.Is(err, syscall.EWOULDBLOCK):
			log.Warn("could not tell whether the worker of a plugin socket directory runs", "dir", dir, "err", err)
		}
		_ = f.Close()
	}
}

// gone reports whether the directory was removed under the worker (a cleaner of old files
// in the temporary directory): the next process needs another.
func (d *socketDir) gone() bool {
	_, err := os.Stat(d.path)
	return errors.Is(err, os.ErrNotExist)
}

// close removes the directory (and what killed processes left in it) and releases the lock.
func (d *socketDir) close() error {
	err := os.RemoveAll(d.path)
	_ = d.lock.Close()
	return err
}
