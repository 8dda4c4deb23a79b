package external

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the package. Match them with errors.Is.
var (
	// ErrProtocolVersion means a plugin binary speaks another version of the plugin protocol.
	ErrProtocolVersion = errors.New("plugin protocol version mismatch")
	// ErrProcessFailed means a plugin process exited, was killed, hung or lost its connection.
	ErrProcessFailed = errors.New("plugin process failed")
	// ErrNotPlugin means a file in a plugin directory is not an rmqconnect plugin binary.
	ErrNotPlugin = errors.New("not an rmqconnect plugin")
	// ErrNotRunning means a call came for an instance whose process is not running (never
	// started, or stopped).
	ErrNotRunning = errors.New("plugin instance not running")
	// ErrClosed means the manager was closed.
	ErrClosed = errors.New("plugin manager closed")
	// ErrBinaryChanged means a plugin binary is no longer the file its connectors were
	// described from (see ChangedError).
	ErrBinaryChanged = errors.New("plugin binary changed since it was described")
	// ErrBadDescription means a plugin binary describes connectors that cannot be registered
	// (a blank name or alias, a name or alias given twice).
	ErrBadDescription = errors.New("plugin describes connectors that cannot be registered")
)

// ChangedError refuses to run a plugin binary replaced or rewritten since its connectors were
// described: the worker drives a connector by what its description says it can do (commit
// records, pre-commit offsets, ...), so a process of another build is refused rather than
// driven by the wrong description. Instances started after a reload, from the new
// description, run it.
type ChangedError struct {
	Path string
}

func (e *ChangedError) Error() string {
	return "plugin binary " + e.Path + " changed since it was described; run /plugin/reload and restart the connector"
}

// Unwrap makes errors.Is(err, ErrBinaryChanged) hold.
func (e *ChangedError) Unwrap() error { return ErrBinaryChanged }

// ProcessError says how a plugin process ended the call it was serving.
type ProcessError struct {
	Binary string
	PID    int
	// Op is the call in flight, e.g. "Poll".
	Op string
	// How is what happened: "exited (exit status 2)", "killed after no answer within 30s", ...
	How string
	// Output is the last lines the process wrote that were not log records (a panic's
	// stack, for one).
	Output []string
}

func (e *ProcessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin process %s (pid %d) %s during %s", e.Binary, e.PID, e.How, e.Op)
	if len(e.Output) > 0 {
		b.WriteString("; its last output:\n")
		b.WriteString(strings.Join(e.Output, "\n"))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrProcessFailed) hold.
func (e *ProcessError) Unwrap() error { return ErrProcessFailed }
