package external

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/external/dirlock"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
)

// Options configure a Manager.
type Options struct {
	// Dirs are the directories scanned for plugin binaries (pluginPaths).
	Dirs []string
	// CallTimeout is how long a call may go unanswered before the process is taken as hung
	// and killed (default 60s). It bounds Poll, Put, Flush and every other call.
	CallTimeout time.Duration
	// StartTimeout bounds the start of a process up to its handshake (default 10s).
	StartTimeout time.Duration
	// Logger receives the manager's log and, with connector and task attributes added by the
	// engine's contexts, the plugins' own. Required.
	Logger *slog.Logger
}

// Manager finds plugin binaries, registers their connectors and runs their processes. Its
// methods are safe for concurrent use.
type Manager struct {
	opts Options
	reg  *plugins.Registry
	log  *slog.Logger

	scanMu     sync.Mutex         // one scan at a time
	binaries   map[string]*binary // described binaries by path, registered or not (a name clash); written under mu too
	refusals   map[string]refusal // binaries refused for what they are, by path
	registered []string           // names this manager has in reg

	mu      sync.Mutex
	procs   map[*process]bool
	control map[*binary]*process // per binary, for Validate
	closed  bool

	sockMu     sync.Mutex
	sockets    *dirlock.TempDir // made at the first launch; nil where none is kept (openSocketDir)
	sockClosed bool
}

// binary is one described plugin binary.
type binary struct {
	path       string
	id         identity // the file described: a process runs this file or none
	version    string
	sdkVersion string
	putFlush   bool // it serves PutFlush
	putStream  bool // it serves Puts
	conns      []*description
}

// description is one connector of a binary.
type description struct {
	bin           *binary
	kind          plugins.Kind
	name          string
	aliases       []string
	spec          *plugins.ConfigSpec
	commitRecord  bool
	preCommit     bool
	queueListener bool
}

// refusal is a binary refused for what it is (not a plugin, another protocol version, a
// description that cannot be registered): run again, it would answer the same, so it is not
// run again until it changes.
type refusal struct {
	id  identity
	err error
}

// Report is the outcome of a scan.
type Report struct {
	// Loaded are the connectors registered from plugin binaries.
	Loaded []plugins.PluginInfo
	// Refused are the binaries that were not registered, and the changed ones that could not
	// be described (their earlier connectors stay registered), with why.
	Refused []Refusal
}

// Refusal is a binary a scan did not register.
type Refusal struct {
	Path string
	Err  error
}

// New returns a manager that registers plugin connectors in reg (which holds the built-in
// ones). Call Reload to scan, and Close to stop every process.
func New(reg *plugins.Registry, opts Options) *Manager {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	return &Manager{opts: opts, reg: reg, log: opts.Logger, binaries: map[string]*binary{},
		refusals: map[string]refusal{}, procs: map[*process]bool{}, control: map[*binary]*process{}}
}

// Reload scans the directories and changes the registry to hold the connectors of the
// binaries found: new and changed binaries are described (one short process each),
// unchanged ones (the same file: device, inode, size and modification time) are kept, removed
// ones are dropped. A binary refused for what it is (not a plugin, another protocol version,
// connectors that cannot be registered) is not run again until it changes.
//
// Running processes are not touched: an instance keeps its process until it stops. The next
// instance runs the binary found now, and only from the description of that very file: an
// instance of a connector described from a file since replaced runs the new file once a reload
// described it with the same abilities for that connector, and is refused (ChangedError)
// before that or when they differ (runnable).
// A binary that cannot be used is left out and reported in Refused (and logged); so is a
// changed binary whose Describe failed for a reason that may pass (a start timeout, a crash),
// whose earlier connectors stay registered until a reload describes it. The error is for a
// failure of the whole scan.
//
// The scan does not end with ctx: a caller that gives up (an HTTP client's timeout) would
// otherwise cut a Describe short and drop that binary's connectors. Each Describe is bounded
// by StartTimeout and CallTimeout.
func (m *Manager) Reload(ctx context.Context) (Report, error) {
	ctx = context.WithoutCancel(ctx)
	m.scanMu.Lock()
	defer m.scanMu.Unlock()
	var rep Report
	paths, refused := m.scan()
	rep.Refused = refused
	next := map[string]*binary{}
	nextRefusals := map[string]refusal{}
	for _, p := range paths {
		id, err := statIdentity(p)
		if err != nil {
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: err})
			continue
		}
		if old := m.binaries[p]; old != nil && old.id == id {
			next[p] = old
			continue
		}
		if r, ok := m.refusals[p]; ok && r.id == id {
			nextRefusals[p] = r
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: r.err})
			continue
		}
		b, err := m.describe(ctx, p, id)
		switch {
		case err == nil:
			next[p] = b
		case settled(err):
			nextRefusals[p] = refusal{id: id, err: err}
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: err})
		case m.binaries[p] != nil:
			// The earlier description stays: the new file may describe itself at the next
			// reload, and meanwhile instances of the earlier connectors are refused as
			// started from a changed binary, not driven by a description of another file.
			next[p] = m.binaries[p]
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: fmt.Errorf(
				"%w; its connectors as described before stay registered, and their new instances are refused until a reload describes it", err)})
		default:
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: err})
		}
	}
	// Register in path order; a binary whose names clash with a built-in connector or an
	// earlier binary is refused whole.
	var adds []plugins.Registration
	taken := map[string]string{}
	for _, info := range m.reg.List() {
		if info.Location != "" {
			continue
		}
		for _, k := range append([]string{info.Name}, info.Aliases...) {
			taken[k] = "the built-in connector " + info.Name
		}
	}
	sorted := make([]string, 0, len(next))
	for p := range next {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var names []string
	for _, p := range sorted {
		b := next[p]
		if err := claim(b, taken); err != nil {
			// Kept in next: its description holds, and a reload after the clash is gone
			// registers it without running it again.
			rep.Refused = append(rep.Refused, Refusal{Path: p, Err: err})
			continue
		}
		for _, d := range b.conns {
			info := plugins.PluginInfo{Kind: d.kind, Name: d.name, Aliases: d.aliases, Version: b.version, Location: b.path}
			adds = append(adds, plugins.Registration{Info: info, Factory: m.factory(d)})
			names = append(names, d.name)
			rep.Loaded = append(rep.Loaded, info)
		}
	}
	if err := m.reg.Swap(m.registered, adds); err != nil {
		return Report{}, fmt.Errorf("register plugins: %w", err)
	}
	m.registered = names
	// Validate processes of changed or removed binaries go; running instances stay.
	m.mu.Lock()
	var stale []*process
	for b, proc := range m.control {
		if next[b.path] != b {
			stale = append(stale, proc)
			delete(m.control, b)
		}
	}
	m.mu.Unlock()
	for _, proc := range stale {
		proc.kill("was stopped after its binary changed")
	}
	m.mu.Lock()
	m.binaries = next
	m.mu.Unlock()
	m.refusals = nextRefusals
	for _, r := range rep.Refused {
		m.log.Error("plugin refused", "path", r.Path, "err", r.Err)
	}
	return rep, nil
}

// settled reports whether a Describe failed for what the binary is, which running it again
// would not change; other failures (a start timeout, a crash, a file replaced under the
// scan) may pass.
func settled(err error) bool {
	return errors.Is(err, ErrNotPlugin) || errors.Is(err, ErrProtocolVersion) ||
		errors.Is(err, ErrBadDescription) || errors.Is(err, wire.ErrBadMessage)
}

func claim(b *binary, taken map[string]string) error {
	mine := map[string]bool{}
	for _, d := range b.conns {
		for _, k := range append([]string{d.name}, d.aliases...) {
			if by, ok := taken[k]; ok {
				return fmt.Errorf("%w: %q is already used by %s", plugins.ErrDuplicatePlugin, k, by)
			}
			mine[k] = true
		}
	}
	for k := range mine {
		taken[k] = "the plugin " + b.path
	}
	return nil
}

// scan lists the executable files of the directories (symbolic links followed, hidden files
// skipped), sorted.
func (m *Manager) scan() ([]string, []Refusal) {
	var out []string
	var refused []Refusal
	for _, dir := range m.opts.Dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			refused = append(refused, Refusal{Path: dir, Err: fmt.Errorf("pluginPaths: %w", err)})
			continue
		}
		for _, e := range entries {
			if e.Name()[0] == '.' {
				continue
			}
			p := filepath.Join(dir, e.Name())
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
				continue
			}
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, refused
}

// describe runs a binary, the file of identity id, once and asks for its connectors.
func (m *Manager) describe(ctx context.Context, path string, id identity) (*binary, error) {
	proc, err := m.launch(path, id, RoleDescribe, m.log.With("plugin", path))
	if err != nil {
		return nil, err
	}
	defer proc.kill("was stopped after Describe")
	var rep *pb.DescribeReply
	if err := proc.call(ctx, "Describe", func(ctx context.Context) (err error) {
		rep, err = proc.conn.Plugin.Describe(ctx, &pb.Empty{})
		return err
	}); err != nil {
		return nil, err
	}
	b := &binary{path: path, id: id, version: rep.Version, sdkVersion: rep.SdkVersion,
		putFlush: rep.PutFlush, putStream: rep.PutStream}
	for _, c := range rep.Connectors {
		kind := plugins.Kind(c.Kind)
		if !kind.Valid() {
			return nil, fmt.Errorf("plugin %s: connector %s: %w: unknown kind %q", path, c.Name, wire.ErrBadMessage, c.Kind)
		}
		spec, err := wire.DecodeSpec(c.Spec)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: connector %s: %w", path, c.Name, err)
		}
		b.conns = append(b.conns, &description{bin: b, kind: kind, name: c.Name, aliases: c.Aliases, spec: spec,
			commitRecord: c.CommitRecord, preCommit: c.PreCommit, queueListener: c.QueueListener})
	}
	if len(b.conns) == 0 {
		return nil, fmt.Errorf("plugin %s: %w: it holds no connector", path, ErrNotPlugin)
	}
	// The registry's own rules (a name, no blank alias, no name or alias twice), applied to
	// this binary alone: one that breaks them is refused by itself, where the registration
	// of every binary at once would fail the whole scan and the worker's start with it.
	own := plugins.NewRegistry()
	for _, d := range b.conns {
		if err := own.Register(d.kind, d.name, d.aliases, func() plugins.Connector { return nil }); err != nil {
			return nil, fmt.Errorf("plugin %s: %w: %w", path, ErrBadDescription, err)
		}
	}
	return b, nil
}

// runnable is the identity of the file a process of d may run: d's own binary's, or, once a
// reload described the file at its path again, the new description's when that serves d's
// connector with the same abilities (a rebuild, an upgrade adding no ability): an instance
// made before the reload then runs the new build, where it would otherwise fail its tasks
// until its connector restarted. Abilities are what the adapters follow; a changed config
// spec is the new build's to refuse at Start.
func (m *Manager) runnable(d *description) identity {
	m.mu.Lock()
	cur := m.binaries[d.bin.path]
	m.mu.Unlock()
	if cur == nil || cur == d.bin {
		return d.bin.id
	}
	for _, n := range cur.conns {
		if n.kind == d.kind && n.name == d.name && sameAbilities(n, d) {
			return cur.id
		}
	}
	return d.bin.id
}

// sameAbilities reports whether the adapters of a and b would drive their connectors alike.
func sameAbilities(a, b *description) bool {
	return a.commitRecord == b.commitRecord && a.preCommit == b.preCommit && a.queueListener == b.queueListener &&
		a.bin.putFlush == b.bin.putFlush && a.bin.putStream == b.bin.putStream
}

// track registers a process (nil only checks that the manager is open).
func (m *Manager) track(p *process) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if p != nil {
		m.procs[p] = true
	}
	return nil
}

func (m *Manager) untrack(p *process) {
	m.mu.Lock()
	delete(m.procs, p)
	for k, c := range m.control {
		if c == p {
			delete(m.control, k)
		}
	}
	m.mu.Unlock()
}

// ProcessInfo describes a running plugin process.
type ProcessInfo struct {
	PID    int
	Binary string
	// Role is what the process serves: RoleConnector, RoleTask, RoleValidate or RoleDescribe.
	Role string
}

// The roles of plugin processes.
const (
	RoleConnector = "connector" // one connector instance
	RoleTask      = "task"      // one task instance
	RoleValidate  = "validate"  // Validate calls for one binary, shared, until Close or a reload
	RoleDescribe  = "describe"  // the Describe call of a scan
)

// Processes lists the running plugin processes, by pid.
func (m *Manager) Processes() []ProcessInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ProcessInfo, 0, len(m.procs))
	for p := range m.procs {
		out = append(out, ProcessInfo{PID: p.pid, Binary: p.bin, Role: p.role})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// Close kills every plugin process, refuses new ones and then removes the directory of their
// sockets (with what killed processes left in it). It is idempotent; call it after the
// engine has stopped its connectors and tasks (their processes are gone by then; this ends
// what is left).
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	procs := make([]*process, 0, len(m.procs))
	for p := range m.procs {
		procs = append(procs, p)
	}
	m.mu.Unlock()
	for _, p := range procs {
		p.kill("was stopped with the worker")
	}
	m.sockMu.Lock()
	d := m.sockets
	m.sockets, m.sockClosed = nil, true
	m.sockMu.Unlock()
	if d != nil {
		if err := d.Remove(); err != nil {
			m.log.Warn("could not remove the plugin socket directory", "dir", d.Path, "err", err)
		}
	}
}

// socketDir returns the directory plugin processes make their sockets in, making it (and
// removing those of workers gone) the first time and after it was removed under the worker;
// "" where none is kept.
func (m *Manager) socketDir() (string, error) {
	m.sockMu.Lock()
	defer m.sockMu.Unlock()
	if m.sockClosed {
		return "", ErrClosed
	}
	if m.sockets != nil && m.sockets.Gone() {
		_ = m.sockets.Remove()
		m.sockets = nil
	}
	if m.sockets == nil {
		d, err := openSocketDir(m.log)
		if err != nil || d == nil {
			return "", err
		}
		m.sockets = d
	}
	return m.sockets.Path, nil
}

// validate runs Validate in the binary's shared process, starting it when needed (and once
// more when it died).
func (m *Manager) validate(d *description, cfg map[string]string) error {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		proc, err := m.controlProcess(d.bin)
		if err != nil {
			return err
		}
		var rep *pb.ErrorReply
		err = proc.call(ctx, "Validate", func(ctx context.Context) (err error) {
			rep, err = proc.conn.Plugin.Validate(ctx, &pb.ValidateRequest{Connector: d.name, Config: cfg})
			return err
		})
		if err == nil {
			return wire.DecodeError(rep.Error)
		}
		proc.kill("was stopped after a failed call")
		if attempt > 0 || !errors.Is(err, ErrProcessFailed) {
			return err
		}
	}
}

func (m *Manager) controlProcess(b *binary) (*process, error) {
	m.mu.Lock()
	proc := m.control[b]
	m.mu.Unlock()
	if proc != nil {
		if !proc.client.Exited() {
			return proc, nil
		}
		proc.kill("exited while idle") // releases what served it and forgets it
	}
	proc, err := m.launch(b.path, b.id, RoleValidate, m.log.With("plugin", b.path))
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if old := m.control[b]; old != nil && !old.client.Exited() {
		m.mu.Unlock()
		proc.kill("was not needed")
		return old, nil
	}
	m.control[b] = proc
	m.mu.Unlock()
	return proc, nil
}

// ReloadPlugins is Reload for the admin API (GET /plugin/reload): it returns each refused
// binary as "path: reason".
func (m *Manager) ReloadPlugins(ctx context.Context) ([]string, error) {
	rep, err := m.Reload(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rep.Refused))
	for i, r := range rep.Refused {
		out[i] = r.Path + ": " + r.Err.Error()
	}
	return out, nil
}
