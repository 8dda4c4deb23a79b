package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/schema"
)

// factory builds the engine's view of a plugin connector: Spec is served from the
// description, Validate by the binary's shared process, and Start runs a process for the
// instance.
func (m *Manager) factory(d *description) plugins.Factory {
	return func() plugins.Connector {
		c := &connector{m: m, d: d}
		if d.kind == plugins.KindSource {
			return &sourceConnector{c}
		}
		return &sinkConnector{c}
	}
}

// instance is the process of one connector or task instance.
type instance struct {
	mu   sync.Mutex
	proc *process
	done bool
}

func (i *instance) get(op string) (*process, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNotRunning)
	}
	return i.proc, nil
}

// start launches a process and starts the instance in it with begin; on failure the
// process is gone.
func (i *instance) start(ctx context.Context, m *Manager, d *description, role string, log *slog.Logger, svc *hostService,
	begin func(ctx context.Context, p *process, hostID uint32) (*pb.ErrorReply, error)) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc != nil || i.done {
		return fmt.Errorf("start %s: already started", d.name)
	}
	p, err := m.launch(d.bin.path, m.runnable(d), role, log)
	if err != nil {
		return err
	}
	id, err := p.serveHost(svc)
	if err != nil {
		p.kill("was stopped after a failed Start")
		return err
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "Start", func(ctx context.Context) (err error) { rep, err = begin(ctx, p, id); return err }); err != nil {
		p.kill("was stopped after a failed Start")
		return err
	}
	i.proc = p
	if err := wire.DecodeError(rep.Error); err != nil {
		// The engine calls Stop after a failed Start; the process stays until then.
		return err
	}
	return nil
}

// stop stops the instance with end and ends its process. A process that is already gone
// has nothing left to release.
func (i *instance) stop(ctx context.Context, end func(ctx context.Context, p *process) (*pb.ErrorReply, error)) error {
	i.mu.Lock()
	p := i.proc
	i.proc, i.done = nil, true
	i.mu.Unlock()
	if p == nil {
		return nil
	}
	defer p.kill("was stopped")
	if p.client.Exited() {
		return nil
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "Stop", func(ctx context.Context) (err error) { rep, err = end(ctx, p); return err }); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

type connector struct {
	m    *Manager
	d    *description
	inst instance
}

func (c *connector) Spec() *plugins.ConfigSpec { return c.d.spec }

func (c *connector) Validate(cfg map[string]string) error { return c.m.validate(c.d, cfg) }

// ValidatesSpec: the plugin's Validate parses the config against the plugin's full spec
// first (plugins/sdk), so the engine may call it on a config its copy of the spec refused.
func (c *connector) ValidatesSpec() {}

func (c *connector) Start(ctx context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	return c.inst.start(ctx, c.m, c.d, RoleConnector, cctx.Logger(), &hostService{conn: cctx},
		func(ctx context.Context, p *process, id uint32) (*pb.ErrorReply, error) {
			return p.conn.Plugin.ConnectorStart(ctx, &pb.ConnectorStartRequest{Connector: c.d.name, Config: cfg, HostBrokerId: id})
		})
}

func (c *connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	p, err := c.inst.get("TaskConfigs")
	if err != nil {
		return nil, err
	}
	var rep *pb.TaskConfigsReply
	if err := p.call(context.Background(), "TaskConfigs", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.TaskConfigs(ctx, &pb.TaskConfigsRequest{MaxTasks: int32(maxTasks)})
		return err
	}); err != nil {
		return nil, err
	}
	if err := wire.DecodeError(rep.Error); err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(rep.Configs))
	for i, tc := range rep.Configs {
		out[i] = tc.Entries
		if out[i] == nil {
			out[i] = map[string]string{}
		}
	}
	return out, nil
}

func (c *connector) Stop(ctx context.Context) error {
	return c.inst.stop(ctx, func(ctx context.Context, p *process) (*pb.ErrorReply, error) {
		return p.conn.Plugin.ConnectorStop(ctx, &pb.StopRequest{})
	})
}

type sourceConnector struct{ *connector }

func (c *sourceConnector) NewSourceTask() plugins.SourceTask {
	t := &sourceTask{m: c.m, d: c.d}
	if c.d.commitRecord {
		return &recordCommittingTask{t}
	}
	return t
}

type sinkConnector struct{ *connector }

func (c *sinkConnector) NewSinkTask() plugins.SinkTask {
	t := &sinkTask{m: c.m, d: c.d}
	switch {
	case c.d.preCommit && c.d.queueListener:
		return &preCommitListeningSink{t}
	case c.d.preCommit:
		return &preCommitSink{t}
	case c.d.queueListener:
		return &listeningSink{t}
	}
	return t
}

// sourceTask reads one batch ahead: while the engine handles a batch, the plugin makes the
// next one (the process works in parallel with the worker instead of in turn). A batch read
// ahead and not delivered when the task stops is dropped; its positions were never
// committed, so a restarted task reads it again.
type sourceTask struct {
	m    *Manager
	d    *description
	inst instance

	seqMu sync.Mutex
	seqs  map[*schema.Record]uint64 // polled records awaiting CommitRecord

	aheadMu sync.Mutex
	ahead   chan pollResult // the batch being read ahead; nil when none
	aheadWG sync.WaitGroup
	bg      context.Context // the read-ahead calls' context, cancelled by Stop
	stopBG  context.CancelFunc
	stopped bool
}

type pollResult struct {
	recs []*schema.Record
	err  error
}

func (t *sourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	t.aheadMu.Lock()
	if t.bg == nil {
		t.bg, t.stopBG = context.WithCancel(context.Background())
	}
	t.aheadMu.Unlock()
	return t.inst.start(ctx, t.m, t.d, RoleTask, tctx.Logger(), &hostService{positions: tctx.Positions()},
		func(ctx context.Context, p *process, id uint32) (*pb.ErrorReply, error) {
			return p.conn.Plugin.SourceStart(ctx, &pb.TaskStartRequest{Connector: t.d.name, Config: cfg, HostBrokerId: id})
		})
}

// Poll delivers the batch read ahead (starting a read when none is under way) and starts
// reading the next one. A cancelled ctx returns at once and leaves the read under way for
// the next call.
func (t *sourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	t.aheadMu.Lock()
	if t.ahead == nil {
		t.ahead = t.readAhead()
	}
	ahead := t.ahead
	t.aheadMu.Unlock()
	select {
	case res := <-ahead:
		t.aheadMu.Lock()
		t.ahead = nil
		if res.err == nil {
			t.ahead = t.readAhead()
		}
		t.aheadMu.Unlock()
		return res.recs, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("Poll: %w", ctx.Err())
	}
}

// readAhead starts one Poll call of the plugin; t.aheadMu is held.
func (t *sourceTask) readAhead() chan pollResult {
	ch := make(chan pollResult, 1)
	if t.stopped || t.bg == nil {
		ch <- pollResult{err: fmt.Errorf("Poll: %w", ErrNotRunning)}
		return ch
	}
	bg := t.bg
	t.aheadWG.Go(func() {
		recs, err := t.poll(bg)
		ch <- pollResult{recs, err}
	})
	return ch
}

// poll is one Poll call of the plugin.
func (t *sourceTask) poll(ctx context.Context) ([]*schema.Record, error) {
	p, err := t.inst.get("Poll")
	if err != nil {
		return nil, err
	}
	var rep *pb.PollReply
	if err := p.call(ctx, "Poll", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.Poll(ctx, &pb.PollRequest{})
		return err
	}); err != nil {
		return nil, err
	}
	if err := wire.DecodeError(rep.Error); err != nil {
		return nil, err
	}
	recs, err := wire.DecodeBatch(rep.Batch)
	if err != nil {
		return nil, fmt.Errorf("poll: plugin %s: %w", t.d.bin.path, err)
	}
	if t.d.commitRecord && len(recs) > 0 {
		t.seqMu.Lock()
		if t.seqs == nil {
			t.seqs = map[*schema.Record]uint64{}
		}
		for i, r := range recs {
			t.seqs[r] = rep.FirstSeq + uint64(i)
		}
		t.seqMu.Unlock()
	}
	return recs, nil
}

func (t *sourceTask) Commit(ctx context.Context) error {
	p, err := t.inst.get("Commit")
	if err != nil {
		return err
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "Commit", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.Commit(ctx, &pb.Empty{})
		return err
	}); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

func (t *sourceTask) Stop(ctx context.Context) error {
	t.aheadMu.Lock()
	t.stopped = true
	if t.stopBG != nil {
		t.stopBG()
	}
	t.aheadMu.Unlock()
	err := t.inst.stop(ctx, func(ctx context.Context, p *process) (*pb.ErrorReply, error) {
		return p.conn.Plugin.SourceStop(ctx, &pb.StopRequest{})
	})
	// The process is gone: a read under way has ended.
	t.aheadWG.Wait()
	return err
}

// recordCommittingTask is a source task whose plugin task is a RecordCommitter.
type recordCommittingTask struct{ *sourceTask }

func (t *recordCommittingTask) CommitRecord(ctx context.Context, r *schema.Record, md *plugins.RecordMetadata) error {
	return t.CommitRecords(ctx, []*schema.Record{r}, []*plugins.RecordMetadata{md})
}

// CommitRecords tells the plugin's task about a delivered batch in one call (the protocol's
// CommitRecords carries many): a call a record cost a round trip, about 0.1 ms, each.
func (t *recordCommittingTask) CommitRecords(ctx context.Context, recs []*schema.Record, mds []*plugins.RecordMetadata) error {
	req := &pb.CommitRecordsRequest{Seqs: make([]uint64, 0, len(recs)), Metadata: make([]*pb.RecordMetadata, 0, len(recs))}
	t.seqMu.Lock()
	for i, r := range recs {
		if seq, ok := t.seqs[r]; ok {
			delete(t.seqs, r)
			req.Seqs, req.Metadata = append(req.Seqs, seq), append(req.Metadata, wire.MetadataMsg(mds[i]))
		}
	}
	t.seqMu.Unlock()
	if len(req.Seqs) == 0 {
		return nil
	}
	p, err := t.inst.get("CommitRecords")
	if err != nil {
		return err
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "CommitRecords", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.CommitRecords(ctx, req)
		return err
	}); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

type sinkTask struct {
	m    *Manager
	d    *description
	inst instance
	buf  []byte // the last Put's encoded records, reused by the next (Puts come one at a time)

	// puts is the Puts stream open to putsOf (a plugin that serves it), nil until the first Put
	// and after a failed exchange; endPuts cancels it. Puts and PutFlushes come one at a time,
	// so only one exchange uses it at once; putsMu guards the fields against Stop.
	putsMu  sync.Mutex
	puts    pb.Plugin_PutsClient
	putsOf  *process
	endPuts context.CancelFunc
	stopped bool // Stop has begun: a Put whose stream it ended was not the process's failure
}

func (t *sinkTask) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	return t.inst.start(ctx, t.m, t.d, RoleTask, tctx.Logger(), &hostService{sink: tctx},
		func(ctx context.Context, p *process, id uint32) (*pb.ErrorReply, error) {
			return p.conn.Plugin.SinkStart(ctx, &pb.TaskStartRequest{Connector: t.d.name, Config: cfg, HostBrokerId: id})
		})
}

func (t *sinkTask) Put(ctx context.Context, records []*schema.Record) error {
	p, err := t.inst.get("Put")
	if err != nil {
		return err
	}
	batch, err := wire.AppendBatch(t.buf, records)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	// The request is marshalled (copied) by the call: the buffer is free once it returns.
	t.buf = batch.Records
	if t.d.bin.putStream {
		rep, err := t.exchange(ctx, p, "Put", &pb.PutFlushRequest{Batch: batch})
		if err != nil {
			return err
		}
		return wire.DecodeError(rep.PutError)
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "Put", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.Put(ctx, &pb.PutRequest{Batch: batch})
		return err
	}); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

// PutFlushes reports whether the plugin serves PutFlush (older SDKs do not).
func (t *sinkTask) PutFlushes() bool { return t.d.bin.putFlush }

// PutFlush sends a Put and the Flush (or PreCommit) after it in one round trip; only to a
// plugin whose PutFlushes is true.
func (t *sinkTask) PutFlush(ctx context.Context, records []*schema.Record, offsets map[plugins.Queue]int64) plugins.PutFlushResult {
	p, err := t.inst.get("PutFlush")
	if err != nil {
		return plugins.PutFlushResult{PutErr: err}
	}
	batch, err := wire.AppendBatch(t.buf, records)
	if err != nil {
		return plugins.PutFlushResult{PutErr: fmt.Errorf("put: %w", err)}
	}
	t.buf = batch.Records
	req := &pb.PutFlushRequest{Batch: batch, Offsets: wire.OffsetsMsg(offsets), Flush: true}
	var rep *pb.PutFlushReply
	if t.d.bin.putStream {
		rep, err = t.exchange(ctx, p, "PutFlush", req)
	} else {
		err = p.call(ctx, "PutFlush", func(ctx context.Context) (err error) {
			rep, err = p.conn.Plugin.PutFlush(ctx, req)
			return err
		})
	}
	if err != nil {
		return plugins.PutFlushResult{PutErr: err}
	}
	if err := wire.DecodeError(rep.PutError); err != nil {
		return plugins.PutFlushResult{PutErr: err}
	}
	res := plugins.PutFlushResult{FlushErr: wire.DecodeError(rep.FlushError)}
	if t.d.preCommit {
		res.Durable = wire.FromOffsetsMsg(rep.Offsets)
	}
	return res
}

func (t *sinkTask) Flush(ctx context.Context, offsets map[plugins.Queue]int64) error {
	p, err := t.inst.get("Flush")
	if err != nil {
		return err
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, "Flush", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.Flush(ctx, &pb.OffsetsRequest{Offsets: wire.OffsetsMsg(offsets)})
		return err
	}); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

// ConcurrentFlush lets the worker send a Flush while a Put is in flight, so a round trip to
// the plugin process is not waited for twice per batch; the SDK keeps a task that is no
// ConcurrentFlusher from seeing the two overlap.
func (t *sinkTask) ConcurrentFlush() bool { return true }

// exchange sends req on the Puts stream to p (opening it first when there is none to p) and
// returns the reply, as one call of p (its timeout, and how a failure is told). A failed
// exchange closes the stream, cancelling what the plugin was doing for it; the next opens
// another.
func (t *sinkTask) exchange(ctx context.Context, p *process, op string, req *pb.PutFlushRequest) (*pb.PutFlushReply, error) {
	var rep *pb.PutFlushReply
	err := p.call(ctx, op, func(cctx context.Context) error {
		s, end, err := t.stream(p)
		if err != nil {
			return err
		}
		// The call's deadline or cancellation ends the stream: a Recv has no deadline of its own.
		stop := context.AfterFunc(cctx, end)
		err = s.Send(req)
		switch {
		case errors.Is(err, io.EOF):
			_, err = s.Recv() // the plugin ended the stream: Recv tells with what status
		case err == nil:
			rep, err = s.Recv()
		}
		if !stop() && err == nil {
			// The call's end came with the reply and cancelled the stream after it: the next
			// exchange opens another rather than fail on this one.
			t.dropPuts(s)
		}
		if err != nil {
			if t.dropPuts(s) {
				// Stop ended the stream under the call: the process is being stopped, not failing.
				return fmt.Errorf("the task was stopped while the call ran: %w", ErrNotRunning)
			}
			if errors.Is(err, io.EOF) {
				// The plugin ended the stream without a status: it is going away.
				return status.Error(codes.Unavailable, "the plugin closed its Puts stream")
			}
		}
		return err
	})
	return rep, err
}

// stream returns the Puts stream open to p, opening one if there is none to p, and what ends it.
func (t *sinkTask) stream(p *process) (pb.Plugin_PutsClient, context.CancelFunc, error) {
	t.putsMu.Lock()
	defer t.putsMu.Unlock()
	if t.puts != nil && t.putsOf == p {
		return t.puts, t.endPuts, nil
	}
	t.dropPutsLocked()
	sctx, cancel := context.WithCancel(context.Background())
	s, err := p.conn.Plugin.Puts(sctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	t.puts, t.putsOf, t.endPuts = s, p, cancel
	return s, cancel, nil
}

// dropPuts ends the Puts stream if it is s and says whether Stop has begun.
func (t *sinkTask) dropPuts(s pb.Plugin_PutsClient) (stopped bool) {
	t.putsMu.Lock()
	defer t.putsMu.Unlock()
	if t.puts == s {
		t.dropPutsLocked()
	}
	return t.stopped
}

func (t *sinkTask) dropPutsLocked() {
	if t.puts != nil {
		t.endPuts() // the plugin's side sees the stream cancelled and ends it
		t.puts, t.putsOf, t.endPuts = nil, nil, nil
	}
}

func (t *sinkTask) Stop(ctx context.Context) error {
	t.putsMu.Lock()
	t.stopped = true
	t.dropPutsLocked()
	t.putsMu.Unlock()
	return t.inst.stop(ctx, func(ctx context.Context, p *process) (*pb.ErrorReply, error) {
		return p.conn.Plugin.SinkStop(ctx, &pb.StopRequest{})
	})
}

func (t *sinkTask) preCommit(ctx context.Context, offsets map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	p, err := t.inst.get("PreCommit")
	if err != nil {
		return nil, err
	}
	var rep *pb.PreCommitReply
	if err := p.call(ctx, "PreCommit", func(ctx context.Context) (err error) {
		rep, err = p.conn.Plugin.PreCommit(ctx, &pb.OffsetsRequest{Offsets: wire.OffsetsMsg(offsets)})
		return err
	}); err != nil {
		return nil, err
	}
	if err := wire.DecodeError(rep.Error); err != nil {
		return nil, err
	}
	return wire.FromOffsetsMsg(rep.Offsets), nil
}

func (t *sinkTask) queues(ctx context.Context, op string, queues []plugins.Queue) error {
	p, err := t.inst.get(op)
	if err != nil {
		return err
	}
	var rep *pb.ErrorReply
	if err := p.call(ctx, op, func(ctx context.Context) (err error) {
		req := &pb.QueuesRequest{Queues: wire.QueuesMsg(queues)}
		if op == "Open" {
			rep, err = p.conn.Plugin.OpenQueues(ctx, req)
		} else {
			rep, err = p.conn.Plugin.CloseQueues(ctx, req)
		}
		return err
	}); err != nil {
		return err
	}
	return wire.DecodeError(rep.Error)
}

type preCommitSink struct{ *sinkTask }

func (t *preCommitSink) PreCommit(ctx context.Context, o map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	return t.preCommit(ctx, o)
}

type listeningSink struct{ *sinkTask }

func (t *listeningSink) Open(ctx context.Context, q []plugins.Queue) error {
	return t.queues(ctx, "Open", q)
}
func (t *listeningSink) Close(ctx context.Context, q []plugins.Queue) error {
	return t.queues(ctx, "Close", q)
}

type preCommitListeningSink struct{ *sinkTask }

func (t *preCommitListeningSink) PreCommit(ctx context.Context, o map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	return t.preCommit(ctx, o)
}
func (t *preCommitListeningSink) Open(ctx context.Context, q []plugins.Queue) error {
	return t.queues(ctx, "Open", q)
}
func (t *preCommitListeningSink) Close(ctx context.Context, q []plugins.Queue) error {
	return t.queues(ctx, "Close", q)
}
