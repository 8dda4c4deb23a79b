package plugins

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fileTree makes allowed/ (with a.txt, sub/, a link to outside/ and a link to a.txt) and
// outside/secret.txt under a temp dir.
func fileTree(t *testing.T) (allowed, outside string) {
	t.Helper()
	base := t.TempDir()
	allowed, outside = filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(allowed, "sub"), 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(allowed, "a.txt"), []byte("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("s"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(allowed, "out")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(allowed, "secret-link")))
	require.NoError(t, os.Symlink(filepath.Join(allowed, "a.txt"), filepath.Join(allowed, "sub", "a-link")))
	return allowed, outside
}

func TestFileAccessCheck(t *testing.T) {
	allowed, outside := fileTree(t)
	a, err := NewFileAccess([]string{allowed}, "fileConnectorAllowedDirs")
	require.NoError(t, err)
	require.True(t, a.Confined())
	for _, p := range []string{
		filepath.Join(allowed, "a.txt"),
		filepath.Join(allowed, "new.txt"),                // to be created
		filepath.Join(allowed, "sub", "deeper", "x.txt"), // missing directories too
		filepath.Join(allowed, "sub", "a-link"),          // a link that stays inside
		filepath.Join(allowed, "sub", "..", "a.txt"),
	} {
		require.NoError(t, a.Check(p), p)
	}
	for _, p := range []string{
		filepath.Join(outside, "secret.txt"),
		filepath.Join(allowed, "..", "outside", "secret.txt"),
		filepath.Join(allowed, "out", "secret.txt"), // through a linked directory
		filepath.Join(allowed, "secret-link"),       // a linked file
		filepath.Join(allowed, "out", "new.txt"),    // creating through a link
		allowed + "-sibling/x",                      // a prefix is not a parent
		"/etc/passwd",
	} {
		err := a.Check(p)
		require.ErrorIs(t, err, ErrPathNotAllowed, p)
		require.ErrorContains(t, err, p)
		require.ErrorContains(t, err, "fileConnectorAllowedDirs")
	}

	var none *FileAccess
	require.NoError(t, none.Check("/etc/passwd"))
	open, err := NewFileAccess(nil, "x")
	require.NoError(t, err)
	require.False(t, open.Confined())
	require.NoError(t, open.Check(filepath.Join(outside, "secret.txt")))

	_, err = NewFileAccess([]string{filepath.Join(allowed, "a.txt")}, "k")
	require.ErrorContains(t, err, "not a directory")
}

func TestFileAccessOpenFile(t *testing.T) {
	allowed, outside := fileTree(t)
	a, err := NewFileAccess([]string{allowed}, "k")
	require.NoError(t, err)
	f, err := a.OpenFile(filepath.Join(allowed, "sub", "a-link"), os.O_RDONLY, 0)
	require.NoError(t, err)
	f.Close()
	f, err = a.OpenFile(filepath.Join(allowed, "made", "..", "new.txt"), os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	f.Close()
	require.FileExists(t, filepath.Join(allowed, "new.txt"))
	_, err = a.OpenFile(filepath.Join(allowed, "out", "created.txt"), os.O_WRONLY|os.O_CREATE, 0o644)
	require.ErrorIs(t, err, ErrPathNotAllowed)
	require.NoFileExists(t, filepath.Join(outside, "created.txt"))
	_, err = a.OpenFile(filepath.Join(allowed, "missing.txt"), os.O_RDONLY, 0)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, filepath.Join(allowed, "missing.txt"))
}

// TestFileAccessSwappedSymlink: a path checked while it was a plain directory, then
// replaced by a link leading out, is refused when opened (os.Root), not followed.
func TestFileAccessSwappedSymlink(t *testing.T) {
	allowed, outside := fileTree(t)
	a, err := NewFileAccess([]string{allowed}, "k")
	require.NoError(t, err)
	dir := filepath.Join(allowed, "d")
	require.NoError(t, os.Mkdir(dir, 0o755))
	target := filepath.Join(dir, "secret.txt")
	require.NoError(t, a.Check(target))
	_, rel, err := a.locate(target)
	require.NoError(t, err)
	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Symlink(outside, dir))
	root, err := os.OpenRoot(allowed)
	require.NoError(t, err)
	defer root.Close()
	_, err = root.OpenFile(rel, os.O_RDONLY, 0)
	require.Error(t, err)
	require.Equal(t, rootEscapes, unwrapPath(err).Error(), "os.Root's reason changed: update rootEscapes")
	_, err = a.OpenFile(target, os.O_RDONLY, 0)
	require.ErrorIs(t, err, ErrPathNotAllowed)
}

type accessCtx struct{ a *FileAccess }

func (c accessCtx) FileAccess() *FileAccess { return c.a }

func TestOpenFileThroughContext(t *testing.T) {
	allowed, outside := fileTree(t)
	a, err := NewFileAccess([]string{allowed}, "k")
	require.NoError(t, err)
	_, err = OpenFile(accessCtx{a}, filepath.Join(outside, "secret.txt"), os.O_RDONLY, 0)
	require.ErrorIs(t, err, ErrPathNotAllowed)
	f, err := OpenFile(struct{}{}, filepath.Join(outside, "secret.txt"), os.O_RDONLY, 0)
	require.NoError(t, err, "a context without the ability leaves files unconfined")
	f.Close()
}

func TestCheckPaths(t *testing.T) {
	allowed, outside := fileTree(t)
	a, err := NewFileAccess([]string{allowed}, "k")
	require.NoError(t, err)
	spec := MustConfigSpec(Field{Name: "filename", Type: TypeString, Path: true, Aliases: []string{"file"}},
		Field{Name: "other", Type: TypeString})
	errs := CheckPaths(spec, map[string]string{"file": filepath.Join(outside, "secret.txt"), "other": "/etc/passwd"}, a)
	require.Len(t, errs, 1)
	require.Equal(t, "file", errs[0].Key)
	require.ErrorIs(t, errs[0], ErrPathNotAllowed)
	require.Empty(t, CheckPaths(spec, map[string]string{"filename": filepath.Join(allowed, "x")}, a))
	require.Empty(t, CheckPaths(spec, map[string]string{"filename": "/etc/passwd"}, nil))
}
