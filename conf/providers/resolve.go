package providers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/magiconair/properties"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// DefaultMaxFileBytes is the largest file ${file:...} reads when Resolver.MaxFileBytes is 0.
const DefaultMaxFileBytes = 1 << 20

// Resolver expands placeholders. The zero value reads the process environment and the file
// system; tests replace either.
type Resolver struct {
	// LookupEnv finds an environment variable; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// ReadFile reads a file; nil means the Resolver's own reader, which takes regular files
	// only (a FIFO, device or directory is refused without blocking), at most MaxFileBytes,
	// opened through Open.
	ReadFile func(path string) ([]byte, error)
	// Open opens a file for reading; nil means os.OpenFile. The worker passes one that
	// confines files to configProviderFileAllowedDirs and returns an error wrapping
	// ErrNotAllowed for a path outside them. The file is opened non-blocking, so opening a
	// FIFO returns at once.
	Open func(path string, flag int, perm fs.FileMode) (*os.File, error)
	// MaxFileBytes caps the size of a file read; 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
}

// readFile is the default ReadFile: a regular file of at most MaxFileBytes.
func (r Resolver) readFile(path string) ([]byte, error) {
	if !filepath.IsAbs(path) {
		return nil, errNotAbsolute
	}
	open := r.Open
	if open == nil {
		open = os.OpenFile
	}
	// O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
	f, err := open(filepath.Clean(path), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	limit := r.MaxFileBytes
	if limit <= 0 {
		limit = DefaultMaxFileBytes
	}
	if st.Size() > limit {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit { // it grew while being read
		return nil, errTooLarge
	}
	return data, nil
}

var (
	errNotAbsolute = errors.New("not an absolute path")
	errNotRegular  = errors.New("not a regular file")
	errTooLarge    = errors.New("too large")
)

// Resolve expands every placeholder of cfg with the default Resolver. See Resolver.Resolve.
func Resolve(cfg map[string]string) (map[string]string, error) {
	return Resolver{}.Resolve(cfg)
}

// Resolve returns a copy of cfg with every placeholder replaced by its value and every "$${"
// by "${". The providers are:
//
//   - ${env:NAME}: the environment variable NAME; set but empty is an empty value.
//   - ${file:PATH:KEY}: the key KEY of the Java .properties file PATH (read without the
//     library's own ${...} expansion). PATH ends at the first ':' after "file:", as in Kafka
//     Connect's FileConfigProvider, so it cannot contain ':'.
//   - ${file:PATH}: the whole content of PATH, with leading and trailing white space removed
//     (a secret file usually ends with a newline).
//
// Each file is read once per call. On failure the result is nil and the error is a cfgerr.List
// holding one *cfgerr.Error per value that failed, in key order; it names keys and placeholders only.
// cfg is not modified.
func (r Resolver) Resolve(cfg map[string]string) (map[string]string, error) {
	out, _, err := r.ResolveSecrets(cfg)
	return out, err
}

// ResolveSecrets is Resolve that also returns every distinct value a placeholder resolved
// to, in no particular order, so that the caller can hide them in text it lets out of the
// process (errors, traces, logs). On failure both results are nil.
func (r Resolver) ResolveSecrets(cfg map[string]string) (map[string]string, []string, error) {
	run := resolution{r: r, files: map[string]fileResult{}, values: map[string]bool{}}
	out := make(map[string]string, len(cfg))
	var errs cfgerr.List
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v, err := run.value(k, cfg[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[k] = v
	}
	if errs != nil {
		return nil, nil, errs
	}
	return out, slices.Collect(maps.Keys(run.values)), nil
}

// resolution is one Resolve call: it caches the files it has read.
type resolution struct {
	r      Resolver
	files  map[string]fileResult
	values map[string]bool // what placeholders resolved to
}

type fileResult struct {
	data []byte
	err  error
}

func (run *resolution) value(key, v string) (string, *cfgerr.Error) {
	if !strings.Contains(v, "${") {
		return v, nil
	}
	segs, err := parse(v)
	if err != nil {
		return "", keyError(key, "", err)
	}
	var b strings.Builder
	for _, s := range segs {
		if s.ph == nil {
			b.WriteString(s.text)
			continue
		}
		got, err := run.placeholder(s.ph)
		if err != nil {
			return "", keyError(key, s.ph.raw, err)
		}
		run.values[got] = true
		b.WriteString(got)
	}
	return b.String(), nil
}

func (run *resolution) placeholder(ph *placeholder) (string, error) {
	switch ph.provider {
	case "env":
		return run.env(ph.arg)
	case "file":
		path, key, hasKey := strings.Cut(ph.arg, ":")
		if path == "" {
			return "", fmt.Errorf("%w: empty file path", ErrSyntax)
		}
		if !hasKey {
			data, err := run.read(path)
			if err != nil {
				return "", err
			}
			return strings.TrimSpace(string(data)), nil
		}
		if key == "" {
			return "", fmt.Errorf("%w: empty key for file %s", ErrSyntax, path)
		}
		return run.fileKey(path, key)
	default:
		return "", fmt.Errorf("%w %q (known: env, file)", ErrUnknownProvider, ph.provider)
	}
}

func (run *resolution) env(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty variable name", ErrSyntax)
	}
	lookup := run.r.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok {
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrNotFound, name)
	}
	return v, nil
}

// read returns a file's bytes, reading it at most once per resolution. The error names the
// path and says why, without the content.
func (run *resolution) read(path string) ([]byte, error) {
	if f, ok := run.files[path]; ok {
		return f.data, f.err
	}
	readFile := run.r.ReadFile
	if readFile == nil {
		readFile = run.r.readFile
	}
	data, err := readFile(path)
	if err != nil {
		reason := "cannot be read"
		sentinel := ErrNotFound
		switch {
		case errors.Is(err, fs.ErrNotExist):
			reason = "does not exist"
		case errors.Is(err, errNotAbsolute):
			reason, sentinel = "is not an absolute path", ErrNotAllowed
		case errors.Is(err, errNotRegular):
			reason, sentinel = "is not a regular file", ErrNotAllowed
		case errors.Is(err, errTooLarge):
			limit := run.r.MaxFileBytes
			if limit <= 0 {
				limit = DefaultMaxFileBytes
			}
			reason, sentinel = fmt.Sprintf("is larger than %d bytes (configProviderFileMaxBytes)", limit), ErrNotAllowed
		case errors.Is(err, ErrNotAllowed): // Open refused a path outside the allowed directories
			reason, sentinel = "is outside configProviderFileAllowedDirs", ErrNotAllowed
		}
		err = fmt.Errorf("%w: file %s %s", sentinel, path, reason)
	}
	run.files[path] = fileResult{data: data, err: err}
	return data, err
}

func (run *resolution) fileKey(path, key string) (string, error) {
	data, err := run.read(path)
	if err != nil {
		return "", err
	}
	l := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadBytes(data)
	if err != nil {
		// The parser's message may quote the file; say only where the problem is.
		return "", fmt.Errorf("%w: file %s is not a valid properties file", ErrNotFound, path)
	}
	v, ok := p.Get(key)
	if !ok {
		return "", fmt.Errorf("%w: key %s not in file %s", ErrNotFound, key, path)
	}
	return v, nil
}

// Restore returns a copy of a task config in which every key whose raw connector config value
// holds a placeholder gets that raw value back. A connector computes its task configs from the
// resolved config, so they may carry secrets; restoring the placeholders before the task
// configs are stored or shown keeps the secrets out of the config topic and the REST API, and
// the task resolves them again when it starts. As in Kafka Connect (AbstractHerder
// .reverseTransform), a task value derived from a placeholder key is replaced by the raw value
// even if the connector changed it. Every other value is a literal — the connector saw only
// resolved values — and is escaped (Escape), so that resolving the task config gives it back
// as it is: a raw "$${env:X}" reached the connector as "${env:X}" and was resolved again
// when the task started, and a value read from data (a table named "${env:SECRET}") was too.
func Restore(raw, task map[string]string) map[string]string {
	out := maps.Clone(task)
	for k, v := range out {
		if rv, ok := raw[k]; ok && HasPlaceholder(rv) {
			out[k] = rv
			continue
		}
		out[k] = Escape(v)
	}
	return out
}

// Escape returns v written so that Resolve gives v back: every "${" becomes "$${".
func Escape(v string) string {
	return strings.ReplaceAll(v, "${", "$${")
}
