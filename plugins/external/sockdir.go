package external

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/rmqconnect/rmqconnect/plugins/external/dirlock"
)

// socketEnv names the socket directory to a plugin process: go-plugin's server makes its
// socket there instead of in the temporary directory.
const socketEnv = plugin.EnvUnixSocketDir

// socketDirPrefix starts the name of a worker's socket directory in the temporary directory,
// followed by the worker's pid (dirlock.MkdirTemp). It is short: a socket's path is limited
// to about 100 bytes, and macOS's temporary directory takes half of them.
const socketDirPrefix = "rmqc-sock-"

// openSocketDir removes the socket directories of workers no longer running and makes this
// worker's, which holds the go-plugin sockets of its plugin processes and, where they fit
// (runIn), the worker's own sockets for each process. A socket is removed when its listener
// closes, which a process killed with SIGKILL (a hang, a stop past its grace period, the
// worker's death) never does: in a directory of its own, the worker removes what is left at
// Close, and the directory of a worker that could not (killed itself) is removed by the next
// worker to make one. The worker holds a lock on it while it lives (dirlock), which the kernel
// releases however the worker dies; its plugins exit when it does.
//
// It returns nil where no directory is kept: go-plugin uses TCP on Windows, and the other
// systems without flock lack the lock that tells a live worker's directory from a dead
// one's. Sockets go to the temporary directory there, where go-plugin places them by default.
func openSocketDir(log *slog.Logger) (*dirlock.TempDir, error) {
	if !dirlock.Supported {
		return nil, nil
	}
	tmp := os.TempDir()
	if err := dirlock.SweepTemp(tmp, socketDirPrefix); err != nil {
		log.Warn("could not remove the plugin sockets of workers no longer running", "err", err)
	}
	d, err := dirlock.MkdirTemp(tmp, socketDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("plugin socket directory: %w", err)
	}
	return d, nil
}

// goPluginNesting is what go-plugin (v1.8.0) adds to the path of the directory it is given
// for sockets (UnixSocketConfig.TempDir): a directory per process, "plugin-dir" and a random
// uint32 (os.MkdirTemp in Client.Start), and in it each socket, "plugin" and a random uint32
// (os.CreateTemp in serverListener_unix). TestPluginDiesWithWorker checks it.
const goPluginNesting = len("/plugin-dir") + 10 + len("/plugin") + 10

// maxSocketPath is the longest socket path bind takes here: sun_path less its NUL (103 bytes
// on macOS and the BSDs, 107 on Linux).
const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// runIn sets cfg to run cmd with its sockets in dir ("" where none is kept).
//
// go-plugin places the worker's side of a process's sockets (its GRPCBroker's listener, which
// serves the Host service) in a directory of its own only when it runs the process through
// RunnerFunc: in a directory it makes in UnixSocketConfig.TempDir, which it also gives the
// process for its sockets and removes when it kills the process. Without it, they go to the
// temporary directory, where those of a worker killed with SIGKILL would stay for ever. That
// nesting is too deep for a socket's path under a long temporary directory (macOS's): there
// the process's sockets go to dir itself, and the worker's own to the temporary directory.
func runIn(cfg *plugin.ClientConfig, cmd *exec.Cmd, dir string) {
	switch {
	case dir != "" && len(dir)+goPluginNesting <= maxSocketPath:
		cfg.UnixSocketConfig = &plugin.UnixSocketConfig{TempDir: dir}
		cfg.RunnerFunc = func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			return newCmdRunner(cmd, spec)
		}
	case dir != "":
		cmd.Env = append(cmd.Env, socketEnv+"="+dir) // the last of a name wins over the worker's own
		cfg.Cmd = cmd
	default:
		cfg.Cmd = cmd
	}
}
