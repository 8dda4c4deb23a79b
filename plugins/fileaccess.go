package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// FileAccess confines the files connectors open to a set of directories (the worker's
// fileConnectorAllowedDirs). A path is allowed when its absolute form, with every symlink
// of its existing part resolved, lies in one of the directories; ".." cannot lead out
// because paths are cleaned first. OpenFile checks again at open time through os.Root, so
// a symlink swapped in after a check cannot escape either. A nil *FileAccess, or one with
// no directories, allows every path. It is immutable and safe for concurrent use.
type FileAccess struct {
	dirs    []string // absolute, cleaned, symlinks resolved
	setting string   // what lists the directories, named in errors
}

// NewFileAccess confines files to dirs (each must exist); setting names where the list
// comes from, for error messages. No dirs gives a FileAccess that allows everything.
func NewFileAccess(dirs []string, setting string) (*FileAccess, error) {
	a := &FileAccess{setting: setting}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", setting, d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", setting, err)
		}
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s: %s is not a directory", setting, d)
		}
		a.dirs = append(a.dirs, real)
	}
	return a, nil
}

// Confined reports whether a restricts paths at all.
func (a *FileAccess) Confined() bool { return a != nil && len(a.dirs) > 0 }

// Check returns nil when path may be opened, else an error wrapping ErrPathNotAllowed
// that names the path. A path whose last components do not exist yet (a file a sink
// will create) is judged by its deepest existing directory.
func (a *FileAccess) Check(path string) error {
	_, _, err := a.locate(path)
	return err
}

// OpenFile is os.OpenFile confined to the allowed directories: the file is opened through
// an os.Root of the directory that holds it, which refuses symlinks and ".." leading out
// of that directory at open time. Unconfined, it is os.OpenFile.
func (a *FileAccess) OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if !a.Confined() {
		return os.OpenFile(path, flag, perm)
	}
	dir, rel, err := a.locate(path)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(rel, flag, perm)
	if err != nil {
		if inner := unwrapPath(err); inner.Error() == rootEscapes {
			// os.Root refused to leave dir: a symlink changed since the path was resolved.
			return nil, fmt.Errorf("%w: %s leads outside %s", ErrPathNotAllowed, path, a.where())
		} else {
			return nil, &fs.PathError{Op: "open", Path: path, Err: inner}
		}
	}
	return f, nil
}

// rootEscapes is the reason os.Root gives for a path that would leave it (the error value
// is not exported; TestFileAccessSwappedSymlink notices a change).
const rootEscapes = "path escapes from parent"

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (a *FileAccess) where() string {
	return fmt.Sprintf("the directories the worker allows (%s: %s)", a.setting, strings.Join(a.dirs, ","))
}

// locate returns the allowed directory holding path and path relative to it.
func (a *FileAccess) locate(path string) (dir, rel string, err error) {
	if !a.Confined() {
		return "", "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrPathNotAllowed, path, err)
	}
	real, err := resolveExisting(abs)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrPathNotAllowed, path, err)
	}
	for _, d := range a.dirs {
		r, err := filepath.Rel(d, real)
		if err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return d, r, nil
		}
	}
	return "", "", fmt.Errorf("%w: %s is outside %s", ErrPathNotAllowed, path, a.where())
}

// resolveExisting resolves the symlinks of the longest existing prefix of the clean,
// absolute path abs and appends the rest unchanged.
func resolveExisting(abs string) (string, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	parent := filepath.Dir(abs)
	if parent == abs {
		return abs, nil
	}
	p, err := resolveExisting(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(p, filepath.Base(abs)), nil
}

// FileAccessor is an optional ability of the contexts the engine hands to connectors and
// tasks (ConnectorContext, SourceTaskContext, SinkTaskContext): the worker's file
// confinement. Connectors open files with OpenFile, which uses it.
type FileAccessor interface {
	FileAccess() *FileAccess
}

// OpenFile opens path for a connector or task whose engine context is ctx: through the
// context's FileAccess when it has one (see FileAccessor), else like os.OpenFile.
func OpenFile(ctx any, path string, flag int, perm fs.FileMode) (*os.File, error) {
	if fa, ok := ctx.(FileAccessor); ok {
		return fa.FileAccess().OpenFile(path, flag, perm)
	}
	return os.OpenFile(path, flag, perm)
}

// CheckPaths checks every Path field of spec set in cfg (by its name or an alias) against
// a and returns one cfgerr.Error per path outside it.
func CheckPaths(spec *ConfigSpec, cfg map[string]string, a *FileAccess) cfgerr.List {
	if spec == nil || !a.Confined() {
		return nil
	}
	var errs cfgerr.List
	for _, f := range spec.Fields() {
		if !f.Path {
			continue
		}
		for _, k := range append([]string{f.Name}, f.Aliases...) {
			v, ok := cfg[k]
			if !ok || strings.TrimSpace(v) == "" {
				continue
			}
			if err := a.Check(strings.TrimSpace(v)); err != nil {
				errs = append(errs, &cfgerr.Error{Key: k, Value: v, Reason: err.Error(), Err: ErrPathNotAllowed})
			}
		}
	}
	return errs
}
