package filestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
)

// Write stores v as JSON at path atomically.
func Write(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		// Keep the previous version; a hard link costs no copy and survives the rename below.
		_ = os.Remove(path + ".bak")
		if err := os.Link(path, path+".bak"); err != nil {
			return fmt.Errorf("keep backup of %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return syncDir(dir)
}

// Read is ReadLogged without a logger: a fallback to the backup is not reported.
func Read(path string, v any) error { return ReadLogged(path, v, nil) }

// ReadLogged loads the JSON at path into v, a non-nil pointer whose value it replaces
// (nothing is merged into what v held) only once a whole file has decoded: a file that
// decodes in part (a type error) leaves v as it was.
//
// When the main file is missing or does not decode, the backup (the version before the
// last Write) is used instead, and log, unless nil, gets a warning naming the file and why
// it was unusable: the last change written is lost. The result is an error wrapping
// os.ErrNotExist only when neither file exists (nothing was ever stored); a backup that
// exists but is unusable, or a main file that cannot be read (permissions, I/O), is an
// error that is not os.ErrNotExist, so that a caller never mistakes it for an empty store.
func ReadLogged(path string, v any, log *slog.Logger) error {
	dst := reflect.ValueOf(v)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	mainErr := readOne(path, dst)
	if mainErr == nil {
		return nil
	}
	var bad *decodeError
	if !errors.Is(mainErr, os.ErrNotExist) && !errors.As(mainErr, &bad) {
		return mainErr // unreadable, not torn: the backup would hide the newest version
	}
	bakErr := readOne(path+".bak", dst)
	switch {
	case bakErr == nil:
		if log != nil {
			log.Warn("store file unusable; using its backup, which lacks the last change written",
				"file", path, "backup", path+".bak", "err", mainErr)
		}
		return nil
	case errors.Is(mainErr, os.ErrNotExist) && errors.Is(bakErr, os.ErrNotExist):
		return mainErr
	case errors.Is(mainErr, os.ErrNotExist):
		return fmt.Errorf("%s is missing and its backup is unusable: %w", path, bakErr)
	case errors.Is(bakErr, os.ErrNotExist):
		return fmt.Errorf("%w (and it has no backup)", mainErr)
	default:
		return fmt.Errorf("%w (and its backup: %v)", mainErr, bakErr)
	}
}

// decodeError is a file that was read but is not a JSON encoding of the value.
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string { return fmt.Sprintf("decode %s: %v", e.path, e.err) }
func (e *decodeError) Unwrap() error { return e.err }

// readOne decodes the file at path into a new value of dst's element type and stores it
// in dst only when the whole decode succeeded.
func readOne(path string, dst reflect.Value) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fresh := reflect.New(dst.Type().Elem())
	if err := json.Unmarshal(data, fresh.Interface()); err != nil {
		return &decodeError{path: path, err: err}
	}
	dst.Elem().Set(fresh.Elem())
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
