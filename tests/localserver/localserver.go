// Package localserver holds what the test harnesses that run real servers through the scripts
// in distribution/bin (rmqtest, dbtest, kafkatest) share: finding a script from a test's
// working directory, a per-user state directory, and the shared lock by which every test
// process says it still uses a server (the last one out stops what the tests started).
package localserver

import (
	"fmt"
	"os"
	"path/filepath"
)

// Script returns the path of distribution/bin/<name>, found by walking up from the working
// directory to the module root; unset names the environment variable that points the tests
// at a running server instead, for the error.
func Script(name, unset string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "distribution", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("distribution/bin/%s not found above the working directory; set %s", name, unset)
		}
		dir = parent
	}
}

// StateDir returns the directory the environment variable env names, or else
// rmqconnect-<name>-<uid> in the temporary directory, created if missing.
func StateDir(env, name string) (string, error) {
	dir := os.Getenv(env)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("rmqconnect-%s-%d", name, os.Getuid()))
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// Use opens path (created if missing) and takes a shared lock on it, which says this process
// uses the server until the file is closed or the process exits. Keep the file referenced:
// closing it, even by the garbage collector, drops the lock.
func Use(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockShared(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}
