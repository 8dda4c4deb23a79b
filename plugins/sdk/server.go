package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/schema"
)

// errNoInstance answers a call for an instance this process does not hold.
var errNoInstance = errors.New("this plugin process holds no such instance (protocol misuse)")

// errStopped answers a call to a task instance after its Stop.
var errStopped = errors.New("the task was stopped (protocol misuse)")

// server is the plugin's side of the protocol. A process holds at most one instance: a
// connector, a source task or a sink task, created by the first Start call.
type server struct {
	pb.UnimplementedPluginServer
	plugin Plugin
	log    *slog.Logger
	broker *plugin.GRPCBroker

	mu sync.Mutex
	// calls is held shared by every call to the task instance and alone by its Stop, so that
	// Stop runs after the calls under way have returned, as the SPI promises: the worker
	// cancels a source task's read-ahead Poll and sends Stop at once, and a Poll takes a
	// moment to notice. A call that comes after Stop is refused (errStopped).
	calls  sync.RWMutex
	pollMu sync.Mutex // Poll and Commit, one at a time as the SPI promises a source task
	// sinkMu keeps a Flush (or PreCommit) from running during a Put of a sink task that is no
	// ConcurrentFlusher: the worker overlaps the calls of every plugin task to save a round
	// trip (the host's adapter is a ConcurrentFlusher), and the SDK keeps the SPI's promise.
	sinkMu    sync.Mutex
	sinkAlone bool // the task allows a Flush during a Put: sinkMu is not taken
	conn      plugins.Connector
	source    plugins.SourceTask
	sink      plugins.SinkTask
	hostConn  *grpc.ClientConn
	stopped   bool
	nextSeq   uint64
	inFlight  map[uint64]*schema.Record // polled records awaiting CommitRecord
	committer plugins.RecordCommitter
	// dropWarn warns once that the task's Poll returned records together with an error: the
	// engine drops them, as it drops those of a built-in task, and a task that counted them as
	// read loses them. Once is enough to tell the plugin's author; every Poll would flood.
	dropWarn sync.Once
}

func (s *server) find(name string) (Connector, error) {
	for _, c := range s.plugin.Connectors {
		if c.Name == name {
			return c, nil
		}
		for _, a := range c.Aliases {
			if a == name {
				return c, nil
			}
		}
	}
	return Connector{}, fmt.Errorf("%w: %q is not a connector of this plugin", plugins.ErrUnknownPlugin, name)
}

// guard runs connector code, turning a panic into a fatal error that carries the stack.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plugin panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

func reply(err error) *pb.ErrorReply { return &pb.ErrorReply{Error: wire.EncodeError(err)} }

func (s *server) Describe(context.Context, *pb.Empty) (*pb.DescribeReply, error) {
	out := &pb.DescribeReply{Version: s.plugin.Version, SdkVersion: sdkVersion(), PutFlush: true, PutStream: true}
	for _, c := range s.plugin.Connectors {
		inst := c.New()
		d := &pb.ConnectorDescription{Kind: string(c.Kind), Name: c.Name, Aliases: c.Aliases, Spec: wire.EncodeSpec(inst.Spec())}
		// Serve checked that inst implements the interface of its kind.
		if c.Kind == plugins.KindSource {
			_, d.CommitRecord = inst.(plugins.SourceConnector).NewSourceTask().(plugins.RecordCommitter)
		} else {
			t := inst.(plugins.SinkConnector).NewSinkTask()
			_, d.PreCommit = t.(plugins.PreCommitter)
			_, d.QueueListener = t.(plugins.QueueListener)
		}
		out.Connectors = append(out.Connectors, d)
	}
	return out, nil
}

func (s *server) Validate(_ context.Context, req *pb.ValidateRequest) (*pb.ErrorReply, error) {
	c, err := s.find(req.Connector)
	if err != nil {
		return reply(err), nil
	}
	return reply(guard(func() error {
		inst := c.New()
		if _, err := inst.Spec().Parse(req.Config); err != nil {
			return err
		}
		return inst.Validate(req.Config)
	})), nil
}

// host dials the worker's Host service.
func (s *server) host(id uint32) (pb.HostClient, error) {
	conn, err := s.broker.DialWithOptions(id, wire.DialOptions()...)
	if err != nil {
		return nil, fmt.Errorf("dial the worker: %w", err)
	}
	s.hostConn = conn
	return pb.NewHostClient(conn), nil
}

func (s *server) closeHost() {
	if s.hostConn != nil {
		_ = s.hostConn.Close()
		s.hostConn = nil
	}
}

func (s *server) ConnectorStart(ctx context.Context, req *pb.ConnectorStartRequest) (*pb.ErrorReply, error) {
	c, err := s.find(req.Connector)
	if err != nil {
		return reply(err), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil || s.source != nil || s.sink != nil {
		return nil, fmt.Errorf("start connector: %w", errNoInstance)
	}
	inst := c.New()
	vals, err := inst.Spec().Parse(req.Config)
	if err != nil {
		return reply(err), nil
	}
	host, err := s.host(req.HostBrokerId)
	if err != nil {
		return nil, err
	}
	s.conn = inst
	cctx := &connectorContext{host: host, log: s.log, vals: vals}
	return reply(guard(func() error { return inst.Start(ctx, cctx, req.Config) })), nil
}

func (s *server) TaskConfigs(_ context.Context, req *pb.TaskConfigsRequest) (*pb.TaskConfigsReply, error) {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return nil, fmt.Errorf("task configs: %w", errNoInstance)
	}
	var tcs []map[string]string
	err := guard(func() (err error) { tcs, err = conn.TaskConfigs(int(req.MaxTasks)); return err })
	out := &pb.TaskConfigsReply{Error: wire.EncodeError(err)}
	for _, tc := range tcs {
		out.Configs = append(out.Configs, &pb.StringMap{Entries: tc})
	}
	return out, nil
}

func (s *server) ConnectorStop(ctx context.Context, _ *pb.StopRequest) (*pb.ErrorReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.stopped {
		return reply(nil), nil
	}
	s.stopped = true
	err := guard(func() error { return s.conn.Stop(ctx) })
	s.closeHost()
	return reply(err), nil
}

func (s *server) taskStart(req *pb.TaskStartRequest, kind plugins.Kind) (plugins.Connector, plugins.Values, pb.HostClient, *pb.ErrorReply, error) {
	c, err := s.find(req.Connector)
	if err != nil {
		return nil, plugins.Values{}, nil, reply(err), nil
	}
	if c.Kind != kind {
		return nil, plugins.Values{}, nil, reply(fmt.Errorf("%w: %s is a %s connector", plugins.ErrKindMismatch, c.Name, c.Kind)), nil
	}
	if s.conn != nil || s.source != nil || s.sink != nil {
		return nil, plugins.Values{}, nil, nil, fmt.Errorf("start task: %w", errNoInstance)
	}
	inst := c.New()
	vals, err := inst.Spec().Parse(req.Config)
	if err != nil {
		return nil, plugins.Values{}, nil, reply(err), nil
	}
	host, err := s.host(req.HostBrokerId)
	if err != nil {
		return nil, plugins.Values{}, nil, nil, err
	}
	return inst, vals, host, nil, nil
}

func (s *server) SourceStart(ctx context.Context, req *pb.TaskStartRequest) (*pb.ErrorReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, vals, host, r, err := s.taskStart(req, plugins.KindSource)
	if r != nil || err != nil {
		return r, err
	}
	task := inst.(plugins.SourceConnector).NewSourceTask()
	s.source = task
	if rc, ok := task.(plugins.RecordCommitter); ok {
		s.committer, s.inFlight = rc, map[uint64]*schema.Record{}
	}
	tctx := &sourceContext{positions: positionReader{host}, log: s.log, vals: vals}
	return reply(guard(func() error { return task.Start(ctx, tctx, req.Config) })), nil
}

func (s *server) sourceTask() (plugins.SourceTask, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.source == nil {
		return nil, errNoInstance
	}
	return s.source, nil
}

func (s *server) Poll(ctx context.Context, _ *pb.PollRequest) (*pb.PollReply, error) {
	task, err := s.sourceTask()
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	var recs []*schema.Record
	s.pollMu.Lock()
	err = s.taskCall(func() (err error) { recs, err = task.Poll(ctx); return err })
	s.pollMu.Unlock()
	if err != nil {
		if len(recs) > 0 && s.log != nil {
			s.dropWarn.Do(func() {
				// The error itself goes to the worker, which reports it.
				s.log.Warn("the task's Poll returned records together with an error: they are dropped; "+
					"return them from a Poll without an error", "records", len(recs))
			})
		}
		return &pb.PollReply{Error: wire.EncodeError(err)}, nil
	}
	if slices.Contains(recs, nil) {
		// The engine skips the nil entries of a built-in task's batch; the batch cannot hold
		// them, and the records' sequence numbers (CommitRecords) count those that cross.
		recs = slices.DeleteFunc(slices.Clone(recs), func(r *schema.Record) bool { return r == nil })
	}
	var batch *pb.Batch
	// Guarded as the task's own code is: a record the encoder cannot walk (a struct without a
	// schema) fails the task, as it does in the engine's converters, not the process.
	if err := guard(func() (err error) { batch, err = wire.EncodeBatch(recs); return err }); err != nil {
		return &pb.PollReply{Error: wire.EncodeError(fmt.Errorf("poll: %w", err))}, nil
	}
	out := &pb.PollReply{Batch: batch}
	s.mu.Lock()
	out.FirstSeq = s.nextSeq
	if s.inFlight != nil {
		for i, r := range recs {
			s.inFlight[s.nextSeq+uint64(i)] = r
		}
	}
	s.nextSeq += uint64(len(recs))
	s.mu.Unlock()
	return out, nil
}

func (s *server) Commit(ctx context.Context, _ *pb.Empty) (*pb.ErrorReply, error) {
	task, err := s.sourceTask()
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	return reply(s.taskCall(func() error { return task.Commit(ctx) })), nil
}

func (s *server) CommitRecords(ctx context.Context, req *pb.CommitRecordsRequest) (*pb.ErrorReply, error) {
	s.mu.Lock()
	rc := s.committer
	recs := make([]*schema.Record, len(req.Seqs))
	for i, seq := range req.Seqs {
		recs[i] = s.inFlight[seq]
		delete(s.inFlight, seq)
	}
	s.mu.Unlock()
	if rc == nil {
		return reply(nil), nil
	}
	err := s.taskCall(func() error {
		var errs []error
		for i, r := range recs {
			if r == nil || i >= len(req.Metadata) {
				continue
			}
			md := wire.FromMetadataMsg(req.Metadata[i])
			if err := guard(func() error { return rc.CommitRecord(ctx, r, md) }); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	if errors.Is(err, errStopped) {
		return reply(nil), nil // acknowledgements that crossed the task's Stop: nothing to tell it
	}
	return reply(err), nil
}

func (s *server) SourceStop(ctx context.Context, _ *pb.StopRequest) (*pb.ErrorReply, error) {
	s.calls.Lock() // after the calls under way
	defer s.calls.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.source == nil || s.stopped {
		return reply(nil), nil
	}
	s.stopped = true
	err := guard(func() error { return s.source.Stop(ctx) })
	s.closeHost()
	return reply(err), nil
}

func (s *server) SinkStart(ctx context.Context, req *pb.TaskStartRequest) (*pb.ErrorReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, vals, host, r, err := s.taskStart(req, plugins.KindSink)
	if r != nil || err != nil {
		return r, err
	}
	task := inst.(plugins.SinkConnector).NewSinkTask()
	s.sink = task
	s.sinkAlone = concurrentFlusher(task)
	tctx := &sinkContext{host: host, log: s.log, vals: vals}
	return reply(guard(func() error { return task.Start(ctx, tctx, req.Config) })), nil
}

func (s *server) sinkTask() (plugins.SinkTask, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return nil, errNoInstance
	}
	return s.sink, nil
}

// concurrentFlusher reports whether task allows a Flush during a Put.
func concurrentFlusher(task plugins.SinkTask) (ok bool) {
	cf, is := task.(plugins.ConcurrentFlusher)
	if !is {
		return false
	}
	_ = guard(func() error { ok = cf.ConcurrentFlush(); return nil })
	return ok
}

// sinkCall runs a call to the sink task: under sinkMu unless the task allows a Flush
// during a Put.
func (s *server) sinkCall(f func() error) error {
	s.mu.Lock()
	alone := s.sinkAlone
	s.mu.Unlock()
	if !alone {
		s.sinkMu.Lock()
		defer s.sinkMu.Unlock()
	}
	return s.taskCall(f)
}

// taskCall runs f, a call to the task instance, unless the instance was stopped (see calls).
func (s *server) taskCall(f func() error) error {
	s.calls.RLock()
	defer s.calls.RUnlock()
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return errStopped
	}
	return guard(f)
}

func (s *server) Put(ctx context.Context, req *pb.PutRequest) (*pb.ErrorReply, error) {
	task, err := s.sinkTask()
	if err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	recs, err := wire.DecodeBatch(req.Batch)
	if err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	return reply(s.sinkCall(func() error { return task.Put(ctx, recs) })), nil
}

func (s *server) Flush(ctx context.Context, req *pb.OffsetsRequest) (*pb.ErrorReply, error) {
	task, err := s.sinkTask()
	if err != nil {
		return nil, fmt.Errorf("flush: %w", err)
	}
	return reply(s.sinkCall(func() error { return task.Flush(ctx, wire.FromOffsetsMsg(req.Offsets)) })), nil
}

// PutFlush is Put and then, if it succeeded, Flush (PreCommit for a PreCommitter), each run by its
// own handler.
func (s *server) PutFlush(ctx context.Context, req *pb.PutFlushRequest) (*pb.PutFlushReply, error) {
	put, err := s.Put(ctx, &pb.PutRequest{Batch: req.Batch})
	if err != nil || put.Error != nil {
		return &pb.PutFlushReply{PutError: put.GetError()}, err
	}
	offsets := &pb.OffsetsRequest{Offsets: req.Offsets}
	if task, err := s.sinkTask(); err == nil {
		if _, ok := task.(plugins.PreCommitter); ok {
			rep, err := s.PreCommit(ctx, offsets)
			return &pb.PutFlushReply{FlushError: rep.GetError(), Offsets: rep.GetOffsets()}, err
		}
	}
	rep, err := s.Flush(ctx, offsets)
	return &pb.PutFlushReply{FlushError: rep.GetError()}, err
}

// Puts serves a task's Puts and PutFlushes sent on one stream, one at a time: each request is
// answered before the next is read. The task's context is the stream's, which the worker
// cancels to abandon a call.
func (s *server) Puts(st pb.Plugin_PutsServer) error {
	ctx := st.Context()
	for {
		req, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the worker closed the stream
			}
			return err
		}
		var rep *pb.PutFlushReply
		if req.Flush {
			rep, err = s.PutFlush(ctx, req)
		} else {
			var put *pb.ErrorReply
			put, err = s.Put(ctx, &pb.PutRequest{Batch: req.Batch})
			rep = &pb.PutFlushReply{PutError: put.GetError()}
		}
		if err != nil {
			return err
		}
		if err := st.Send(rep); err != nil {
			return err
		}
	}
}

func (s *server) PreCommit(ctx context.Context, req *pb.OffsetsRequest) (*pb.PreCommitReply, error) {
	task, err := s.sinkTask()
	if err != nil {
		return nil, fmt.Errorf("pre-commit: %w", err)
	}
	pc, ok := task.(plugins.PreCommitter)
	if !ok {
		return nil, fmt.Errorf("pre-commit: the task is no PreCommitter")
	}
	var out map[plugins.Queue]int64
	err = s.sinkCall(func() (err error) { out, err = pc.PreCommit(ctx, wire.FromOffsetsMsg(req.Offsets)); return err })
	return &pb.PreCommitReply{Error: wire.EncodeError(err), Offsets: wire.OffsetsMsg(out)}, nil
}

func (s *server) queues(ctx context.Context, req *pb.QueuesRequest, open bool) (*pb.ErrorReply, error) {
	task, err := s.sinkTask()
	if err != nil {
		return nil, err
	}
	ql, ok := task.(plugins.QueueListener)
	if !ok {
		return reply(nil), nil
	}
	qs := wire.FromQueuesMsg(req.Queues)
	if open {
		return reply(s.sinkCall(func() error { return ql.Open(ctx, qs) })), nil
	}
	return reply(s.sinkCall(func() error { return ql.Close(ctx, qs) })), nil
}

func (s *server) OpenQueues(ctx context.Context, req *pb.QueuesRequest) (*pb.ErrorReply, error) {
	return s.queues(ctx, req, true)
}

func (s *server) CloseQueues(ctx context.Context, req *pb.QueuesRequest) (*pb.ErrorReply, error) {
	return s.queues(ctx, req, false)
}

func (s *server) SinkStop(ctx context.Context, _ *pb.StopRequest) (*pb.ErrorReply, error) {
	s.calls.Lock() // after the calls under way
	defer s.calls.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil || s.stopped {
		return reply(nil), nil
	}
	s.stopped = true
	err := guard(func() error { return s.sink.Stop(ctx) })
	s.closeHost()
	return reply(err), nil
}

func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/rmqconnect/rmqconnect" {
				return d.Version
			}
		}
		if bi.Main.Path == "github.com/rmqconnect/rmqconnect" {
			return bi.Main.Version
		}
	}
	return "unknown"
}

// hostTimeout bounds a context call to the worker made without a caller's context.
const hostTimeout = 30 * time.Second
