package plugins

import (
	"context"
	"log/slog"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// SourceTask reads an external system. The engine calls Start once, then Poll
// in a loop from a single goroutine, Commit periodically and on stop from the
// same goroutine, and Stop once. The engine converts, transforms and sends
// the records, tracks broker acks and persists positions; the task never
// retries on its own behalf.
type SourceTask interface {
	// Start opens the external system. cfg is one entry of the connector's
	// TaskConfigs. Use tctx.Positions() to resume from the last committed
	// position of each source partition. ctx bounds the start only. A
	// RetriableError makes the engine call Stop and retry Start after a
	// backoff, within errors.retry.timeout; any other error marks the task
	// FAILED and the engine's restart policy applies.
	Start(ctx context.Context, tctx SourceTaskContext, cfg map[string]string) error

	// Poll returns the next batch of records, or an empty batch when nothing
	// is available right now (the engine will call again; Poll may block up
	// to about a second waiting for data, but must return promptly when ctx is
	// cancelled). Every record must carry SourcePartition and an offset,
	// SourceOffset or LazyOffset (read with Record.Offset): the offset is what
	// the engine commits once the record is acked, and what Start reads back
	// after a restart; the engine reads it only for the last record of each
	// partition in a batch, so LazyOffset spares a task building the others. Records passed to the engine must not
	// be modified afterwards. A RetriableError makes the engine call Poll
	// again after a backoff within errors.retry.timeout; any other error fails
	// the task.
	Poll(ctx context.Context) ([]*schema.Record, error)

	// Commit tells the task that positions up to the last acked records have
	// been durably stored by the engine, so it may release resources (delete
	// files, ack upstream). Best effort: an error is logged by the engine and
	// does not fail the task.
	Commit(ctx context.Context) error

	// Stop closes the external system. The engine stops calling Poll before
	// calling Stop and calls it once; ctx carries the graceful-stop deadline.
	// It must be safe to call after a failed Start.
	Stop(ctx context.Context) error
}

// RecordCommitter is an optional SourceTask ability: once every message of a
// poll batch is acked, the engine calls CommitRecord for each record of the
// batch, in poll order, from the goroutine that sends (it may run while Poll
// does). md is nil when the record was dropped by a transform or skipped under
// errors.tolerance=all. An error is logged and ignored.
type RecordCommitter interface {
	CommitRecord(ctx context.Context, r *schema.Record, md *RecordMetadata) error
}

// RecordsCommitter is an optional RecordCommitter ability: the engine calls CommitRecords
// once for a delivered batch, records[i] with metadata[i] as CommitRecord would get them, in
// poll order, instead of CommitRecord a record. An out-of-process plugin's task has it, so
// that one call, not one a record, crosses the process boundary.
type RecordsCommitter interface {
	RecordCommitter
	CommitRecords(ctx context.Context, records []*schema.Record, metadata []*RecordMetadata) error
}

// RecordMetadata is where the broker stored a produced record.
type RecordMetadata struct {
	Topic       string
	BrokerName  string
	QueueID     int
	QueueOffset int64
	MsgID       string
	Timestamp   time.Time
}

// ExtTargetQueue is the record extension by which a source task that runs with
// ordering.msg.enable=true picks the target queue of a record that has no key: its value is
// a queue index n (decimal), and the record goes to queue n modulo the topic's queue count,
// in order with the other records given the same n. Without it (or without a key), the
// records of one source partition share a queue chosen by a hash.
const ExtTargetQueue = "connect.target.queue"

// Queue names one RocketMQ message queue.
type Queue struct {
	Topic      string
	BrokerName string
	QueueID    int
}

// SinkTask writes an external system. The engine calls Start once, then Put
// with batches of converted and transformed records, one Put at a time, Flush
// (or PreCommit) before committing consumer offsets, one at a time and never
// while a Put runs (unless the task is a ConcurrentFlusher), and Stop once. The
// engine owns consumption, retries, the dead-letter queue and offset commits.
type SinkTask interface {
	// Start opens the external system. cfg is one entry of the connector's
	// TaskConfigs. ctx bounds the start only. Errors are handled as for
	// SourceTask.Start.
	Start(ctx context.Context, tctx SinkTaskContext, cfg map[string]string) error

	// Put hands over a batch (possibly empty) of records in queue order. The
	// task may write them at once or buffer them until Flush. Records must
	// not be modified or retained past Flush. A RetriableError makes the
	// engine redeliver the same batch after a backoff (the task must cope
	// with seeing records again); any other error fails the task, except that
	// a single bad record should go through tctx.ErrantRecordReporter().
	Put(ctx context.Context, records []*schema.Record) error

	// Flush makes every record passed to Put durable in the external system.
	// offsets holds, per queue, the next offset to consume after the records
	// delivered so far. After Flush returns nil the engine commits these
	// offsets. An error means nothing is committed; a RetriableError is
	// retried, any other error fails the task.
	Flush(ctx context.Context, offsets map[Queue]int64) error

	// Stop closes the external system after a final Flush. Called once; ctx
	// carries the graceful-stop deadline. Safe after a failed Start.
	Stop(ctx context.Context) error
}

// PreCommitter is an optional SinkTask ability replacing Flush before an
// offset commit: the task returns the offsets that are actually durable
// (never beyond those it was given; a missing queue means "commit nothing
// for it"). Tasks that write asynchronously implement it.
type PreCommitter interface {
	PreCommit(ctx context.Context, offsets map[Queue]int64) (map[Queue]int64, error)
}

// ConcurrentFlusher is an optional SinkTask ability. A task whose
// ConcurrentFlush answers true lets the engine call Flush (or PreCommit) while
// a Put runs on another goroutine, so that records keep being put during a slow
// Flush (Puts stay one at a time, and so do Flushes). Such a Flush must make
// durable at least the records of every Put that returned before it was
// called; the offsets it is given cover only those. The engine flushes such a
// task less often: once consumer.batch.size records put wait for a Flush, the
// oldest waited the commit interval, or reading stops for a re-plan; and it lets
// the records of a Put gather for up to 4 ms (or until consumer.batch.size of
// them wait) while its other goroutines read on, so that such a task, whose
// calls are round trips, gets fewer and larger Puts. A task without it never
// sees a Put and a Flush overlap, and is put as soon as records wait.
type ConcurrentFlusher interface {
	ConcurrentFlush() bool
}

// PutFlusher is an optional SinkTask ability of a task whose calls are round trips
// (an out-of-process plugin). When PutFlushes answers true (asked once, before
// Start), the engine may replace a Put followed at once by a Flush (or PreCommit)
// by one PutFlush call. The Put and the Flush keep their contracts; the engine
// handles their outcomes as it would those of two calls.
type PutFlusher interface {
	PutFlushes() bool
	// PutFlush puts records and, if that succeeded, flushes (pre-commits, for a
	// PreCommitter) with offsets, which cover them. A failed Put is returned
	// alone, with no Flush made.
	PutFlush(ctx context.Context, records []*schema.Record, offsets map[Queue]int64) PutFlushResult
}

// PutFlushResult is what a PutFlush did.
type PutFlushResult struct {
	// PutErr is the Put's error; when it is set, no Flush was made.
	PutErr error
	// FlushErr is the Flush's (or PreCommit's) error.
	FlushErr error
	// Durable is the PreCommit's answer, for a PreCommitter.
	Durable map[Queue]int64
}

// QueueListener is an optional SinkTask ability: the engine calls Open with
// the queues of a plan before any of their records are put (a seek asked for
// with ResetOffsets in Open applies to them), and Close with them once reading
// them stops (a re-plan, or the task stopping) and their last offsets are
// committed. Neither overlaps a Put, Flush or PreCommit; an error from either at
// a re-plan fails the task.
type QueueListener interface {
	Open(ctx context.Context, queues []Queue) error
	Close(ctx context.Context, queues []Queue) error
}

// SourceTaskContext is the engine's side of a running source task. The
// engine's context is also a MetricsProvider: record the task's own metrics
// through MetricsOf(tctx).
type SourceTaskContext interface {
	// Positions reads committed source positions.
	Positions() PositionReader
	// Logger returns a logger scoped to this task; never nil.
	Logger() *slog.Logger
	// Config returns this task's configuration (its entry of TaskConfigs, the
	// cfg given to Start) parsed against the connector's Spec by the engine,
	// defaults filled in. Keys the Spec does not declare stay in cfg only.
	Config() Values
}

// PositionReader reads the last committed offset of source partitions, as
// stored by the engine from the records' offsets (Record.Offset).
type PositionReader interface {
	// Position returns the committed offset of partition, or nil (and no
	// error) when none was committed. An error means the store is
	// unavailable; the task should return it from Start.
	Position(ctx context.Context, partition map[string]any) (map[string]any, error)
	// Positions is the batch form; the result has one entry per partition
	// that has a committed offset.
	Positions(ctx context.Context, partitions []map[string]any) ([]PartitionPosition, error)
}

// PartitionPosition pairs a source partition with its committed offset.
type PartitionPosition struct {
	Partition map[string]any
	Offset    map[string]any
}

// SinkTaskContext is the engine's side of a running sink task. Its methods
// may be called from Start, Put, Flush and PreCommit. The engine's context is
// also a MetricsProvider: record the task's own metrics through
// MetricsOf(tctx), from any goroutine of the task.
type SinkTaskContext interface {
	// Assignment returns the queues currently assigned to the task.
	Assignment() []Queue
	// ResetOffsets asks the engine to consume the given queues from the given
	// offsets (for sinks that store their own offsets). Applied before the
	// next Put.
	ResetOffsets(offsets map[Queue]int64)
	// Pause stops delivery from the queues until Resume; Put keeps being
	// called (possibly with empty batches) so the task can resume.
	Pause(queues ...Queue)
	// Resume restarts delivery from paused queues.
	Resume(queues ...Queue)
	// ErrantRecordReporter returns the reporter for records the task cannot
	// write; never nil.
	ErrantRecordReporter() ErrantRecordReporter
	// Logger returns a logger scoped to this task; never nil.
	Logger() *slog.Logger
	// Config returns this task's configuration parsed against the connector's
	// Spec by the engine, as SourceTaskContext.Config does.
	Config() Values
}

// ErrantRecordReporter sends one bad record to the engine's error handling
// (log and/or dead-letter queue, per errors.* settings).
type ErrantRecordReporter interface {
	// Report returns nil once the record is handled (logged and, when a DLQ
	// is configured, written to it): the task then skips the record and goes
	// on. With errors.tolerance=none it returns an error wrapping err, which
	// the task should return from Put to fail.
	Report(ctx context.Context, r *schema.Record, err error) error
}
