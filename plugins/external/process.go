package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/plugins/sdk"
)

// process is one running plugin process and the worker's connection to it.
type process struct {
	bin    string
	pid    int
	client *plugin.Client
	cmd    *exec.Cmd
	conn   *wire.Conn
	out    *lineLogger
	m      *Manager

	wg       sync.WaitGroup // the host service
	killOnce sync.Once
	mu       sync.Mutex
	how      string       // why the worker killed it, when it did
	host     *grpc.Server // the engine's contexts served to the process
	role     string
}

// launch starts bin, which must be the file of identity want (the one described), and
// connects to it for role (see ProcessInfo.Role). log receives the process's log records.
func (m *Manager) launch(bin string, want identity, role string, log *slog.Logger) (*process, error) {
	if err := m.track(nil); err != nil {
		return nil, err
	}
	if err := checkBinary(bin, want); err != nil {
		return nil, err
	}
	sockets, err := m.socketDir()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", bin, err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(pluginEnv(os.Environ()), wire.EnvParentPID+"="+strconv.Itoa(os.Getpid()),
		sdk.EnvLogLevel+"="+strconv.Itoa(int(lowestLevel(log))))
	cmd.SysProcAttr = sysProcAttr()
	out := &lineLogger{log: log}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &wire.GRPCPlugin{}}},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
		Stderr:           out,
		SyncStdout:       &lineLogger{log: log, stream: "stdout"},
		SyncStderr:       &lineLogger{log: log, stream: "stderr"},
		StartTimeout:     m.opts.StartTimeout,
		SkipHostEnv:      true, // cmd.Env is the environment
		GRPCDialOptions:  wire.DialOptions(),
	}
	runIn(cfg, cmd, sockets)
	client := plugin.NewClient(cfg)
	p := &process{bin: bin, role: role, client: client, cmd: cmd, out: out, m: m}
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, p.startError(err)
	}
	// The file was checked before the exec; one renamed over it in between is caught now that
	// the exec is done (one renamed over it just after is refused too, harmlessly: the next
	// instance after a reload runs it).
	if err := checkBinary(bin, want); err != nil {
		client.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", bin, err)
	}
	p.conn = raw.(*wire.Conn)
	if cmd.Process != nil {
		p.pid = cmd.Process.Pid
	}
	if err := m.track(p); err != nil {
		client.Kill()
		return nil, err
	}
	return p, nil
}

// pluginEnv is the worker's environment without its own settings (RMQCONNECT_*, which
// may hold accessKey, secretKey and other secrets): a plugin gets what its connector config
// says and nothing of the worker's configuration.
func pluginEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "RMQCONNECT_") {
			out = append(out, kv)
		}
	}
	return out
}

var versionPat = regexp.MustCompile(`Plugin version: (\d+)`)

func (p *process) startError(err error) error {
	msg := err.Error()
	if m := versionPat.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "incompatible API version") {
		return fmt.Errorf("plugin %s: %w: it speaks protocol version %s and this worker speaks version %d; "+
			"rebuild the plugin with an rmqconnect SDK of protocol version %d", p.bin, ErrProtocolVersion, m[1],
			wire.ProtocolVersion, wire.ProtocolVersion)
	}
	if strings.Contains(msg, "Unrecognized remote plugin message") || strings.Contains(msg, "plugin exited before we could connect") {
		out := p.out.tail()
		detail := ""
		if len(out) > 0 {
			detail = "; its output: " + strings.Join(out, " | ")
		}
		return fmt.Errorf("plugin %s: %w (it did not answer the plugin handshake%s)", p.bin, ErrNotPlugin, detail)
	}
	return fmt.Errorf("plugin %s: start: %w", p.bin, err)
}

// serveHost serves the engine's contexts to the process and returns the broker id the
// process dials.
func (p *process) serveHost(svc pb.HostServer) (uint32, error) {
	id := p.conn.Broker.NextId()
	ln, err := p.conn.Broker.Accept(id)
	if err != nil {
		return 0, fmt.Errorf("plugin %s: serve the worker's side: %w", p.bin, err)
	}
	s := grpc.NewServer(wire.ServerOptions()...)
	pb.RegisterHostServer(s, svc)
	p.mu.Lock()
	p.host = s
	p.mu.Unlock()
	p.wg.Go(func() { _ = s.Serve(ln) })
	return id, nil
}

// killGrace bounds how long a process is given to stop when asked (go-plugin's Shutdown call,
// which has no deadline of its own, then up to 2 s to exit): one that cannot answer at all
// (stopped by a signal, frozen by its cgroup, its runtime wedged) is killed after it, so
// that whoever waits for it is not held forever.
const killGrace = 5 * time.Second

// kill stops the process (asking it to exit, then killing it) and waits for what serves it.
func (p *process) kill(how string) {
	p.killOnce.Do(func() {
		p.setHow(how)
		p.mu.Lock()
		host := p.host
		p.mu.Unlock()
		force := time.AfterFunc(killGrace, p.forceKill)
		p.client.Kill()
		force.Stop()
		if host != nil {
			host.Stop()
		}
		p.wg.Wait()
		p.m.untrack(p)
	})
}

// setHow records why the worker ends the process, unless a reason was recorded first.
func (p *process) setHow(how string) {
	p.mu.Lock()
	if p.how == "" {
		p.how = how
	}
	p.mu.Unlock()
}

// forceKill kills the process outright (SIGKILL), without asking it first.
func (p *process) forceKill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill() // an error says it already ended
	}
}

// call runs one request with the hang deadline. An error the connector returned travels in
// the reply; err here is a failure of the call itself, which call turns into an error that
// says what happened to the process.
func (p *process) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, p.m.opts.CallTimeout)
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if errors.Is(err, ErrNotRunning) {
		return fmt.Errorf("%s: %w", op, err) // the instance was stopped under the call
	}
	// gRPC's own deadline timer may fire a moment before the context's.
	if cctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
		how := fmt.Sprintf("was killed after giving no answer within %v (hung)", p.m.opts.CallTimeout)
		// It did not answer this call; it is not asked to stop either (it may not answer that).
		p.setHow(how)
		p.forceKill()
		p.kill(how)
		return p.failure(op, how)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unavailable && st.Code() != codes.Canceled {
		// The process is alive and refused the call: a protocol error, not a crash.
		return fmt.Errorf("%s: plugin %s: %w", op, p.bin, err)
	}
	return p.failure(op, p.exitState())
}

// exitState waits a moment for a process whose connection broke to be reaped and says how it
// ended; a process still running with a broken connection is killed.
func (p *process) exitState() string {
	deadline := time.Now().Add(2 * time.Second)
	for !p.client.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	how := p.how
	p.mu.Unlock()
	if how != "" {
		return how
	}
	if !p.client.Exited() {
		p.kill("lost its connection and was killed")
		return "lost its connection and was killed"
	}
	// Exited() is set after the process was reaped: ProcessState is final.
	if st := p.cmd.ProcessState; st != nil {
		return "exited (" + st.String() + ")"
	}
	return "exited"
}

func (p *process) failure(op, how string) error {
	return &ProcessError{Binary: p.bin, PID: p.pid, Op: op, How: how, Output: p.out.tail()}
}

// lowestLevel is the lowest level log has enabled, so the plugin sends nothing below it.
func lowestLevel(log *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

// lineLogger turns what a plugin process writes into log records of the worker: JSON lines
// (the SDK's log records) keep their level, message and attributes; other lines (a panic, a
// print) are logged at Warn and kept for the error that reports the process's end.
type lineLogger struct {
	log    *slog.Logger
	stream string // "" for the process's own standard error (the SDK's log records)

	mu   sync.Mutex
	buf  []byte
	last []string
}

const tailLines = 40

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.line(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(b), nil
}

func (l *lineLogger) line(s string) {
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return
	}
	if l.stream == "" && strings.HasPrefix(s, "{") {
		var rec map[string]any
		// Numbers as written: decoded as float64, an integer attribute past 2^53 (a snowflake
		// id, a time in nanoseconds) reached the worker's log rounded.
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&rec) == nil && !dec.More() {
			l.record(rec)
			return
		}
	}
	l.last = append(l.last, s)
	if len(l.last) > tailLines {
		l.last = l.last[len(l.last)-tailLines:]
	}
	stream := l.stream
	if stream == "" {
		stream = "stderr"
	}
	l.log.Warn("plugin output", "stream", stream, "line", s)
}

func (l *lineLogger) record(rec map[string]any) {
	msg, _ := rec[slog.MessageKey].(string)
	var level slog.Level
	if s, ok := rec[slog.LevelKey].(string); ok {
		_ = level.UnmarshalText([]byte(s))
	}
	delete(rec, slog.MessageKey)
	delete(rec, slog.LevelKey)
	delete(rec, slog.TimeKey)
	attrs := make([]any, 0, 2*len(rec))
	for k, v := range rec {
		attrs = append(attrs, k, logValue(v))
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}

// logValue turns the numbers of a decoded log attribute into int64 when integral, else
// float64, as the plugin's logger had them.
func logValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = logValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = logValue(e)
		}
	}
	return v
}

func (l *lineLogger) tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.last...)
}
