package external

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/hashicorp/go-plugin/runner"
)

// cmdRunner runs a plugin's command for go-plugin (ClientConfig.RunnerFunc) as go-plugin's
// own runner does one given as ClientConfig.Cmd: runIn needs RunnerFunc for go-plugin to
// place the worker's sockets in the worker's socket directory.
type cmdRunner struct {
	cmd            *exec.Cmd
	stdout, stderr io.ReadCloser
	pid            int
}

var _ runner.Runner = (*cmdRunner)(nil)

// newCmdRunner prepares cmd, not started, to run with what go-plugin set on spec: its
// environment (the handshake, the socket directory) after cmd's own, and its standard input.
func newCmdRunner(cmd, spec *exec.Cmd) (*cmdRunner, error) {
	cmd.Env = append(cmd.Env, spec.Env...)
	cmd.Stdin = spec.Stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &cmdRunner{cmd: cmd, stdout: stdout, stderr: stderr}, nil
}

func (r *cmdRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	return nil
}

func (r *cmdRunner) Wait(context.Context) error { return r.cmd.Wait() }

// Kill kills the process outright; it may be called more than once.
func (r *cmdRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *cmdRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *cmdRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *cmdRunner) Name() string          { return r.cmd.Path }

// ID is the pid, "0" before Start (go-plugin takes "" as no process to kill).
func (r *cmdRunner) ID() string { return strconv.Itoa(r.pid) }

// Diagnose adds nothing to a failed handshake: startError says what the process printed.
func (r *cmdRunner) Diagnose(context.Context) string { return "" }

// The worker and its plugin processes share the file system and the network.
func (r *cmdRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *cmdRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
