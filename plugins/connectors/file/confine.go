package file

import (
	"io/fs"
	"os"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// The file connectors confine themselves to what the worker allows (fileConnectorAllowedDirs):
// filename is declared as a Path field, so the engine refuses a config whose file lies
// outside the allowed directories before anything starts, and the tasks open the file
// through their engine context's FileAccess, which checks again at open time (a symlink
// swapped in after validation cannot lead out). Without confinement both are no-ops.

// openFile opens path for a task whose engine context is tctx (nil in some tests).
func openFile(tctx any, path string, flag int, perm fs.FileMode) (*os.File, error) {
	return plugins.OpenFile(tctx, path, flag, perm)
}
