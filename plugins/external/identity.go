package external

import (
	"fmt"
	"os"
)

// identity tells one plugin file from another at the same path: a binary renamed over
// another (the way to upgrade one) has another inode, and one written in place another size
// or modification time. Where the platform has no inodes (fileIdentity), size and time are all.
type identity struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds since 1970
}

// statIdentity is the identity of the file at path (symbolic links followed, as exec does).
func statIdentity(path string) (identity, error) {
	st, err := os.Stat(path)
	if err != nil {
		return identity{}, err
	}
	return fileIdentity(st), nil
}

// checkBinary refuses a binary that is no longer the file its connectors were described
// from: a process of another build could have other abilities (a sink that is a PreCommitter
// now, say) than the adapters built from the description use.
func checkBinary(path string, want identity) error {
	got, err := statIdentity(path)
	if err != nil {
		return fmt.Errorf("plugin binary %s: %w", path, err)
	}
	if got != want {
		return &ChangedError{Path: path}
	}
	return nil
}
