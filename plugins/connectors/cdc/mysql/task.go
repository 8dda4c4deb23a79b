package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	sqldriver "github.com/go-sql-driver/mysql"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Source-partition and source-offset keys.
const (
	PartitionServer = "server"
	OffsetFile      = "file"     // binlog file of the start of the event's transaction
	OffsetPos       = "pos"      // position of that start in the file
	OffsetGTIDs     = "gtids"    // GTID set of the transactions before it ("" when the server has none)
	OffsetRow       = "row"      // the row's number in its transaction, from 1 (0: the transaction is not begun)
	OffsetSnapshot  = "snapshot" // true on the records of an unfinished initial snapshot
)

// resumePoint is where streaming (re)starts: the start of a transaction, skipping its first skip rows.
type resumePoint struct {
	file  string
	pos   uint32
	gtids string
	skip  int64
}

func (r resumePoint) offset(row int64) map[string]any {
	return map[string]any{OffsetFile: r.file, OffsetPos: int64(r.pos), OffsetGTIDs: r.gtids, OffsetRow: row}
}

// task is the mysql-cdc source task. Start, Poll and Commit run on the engine's task goroutine. Stop may
// come from another goroutine while a Poll runs: it cancels life, which ends the Poll promptly, and takes
// run, which Poll holds while it uses the connections, before it closes them.
type task struct {
	cfg       *config
	log       *slog.Logger
	src       *cdc.Source
	partition map[string]any
	life      context.Context
	cancel    context.CancelFunc
	// run serialises Poll with Stop; stopped is set under it once the connections are closed.
	run     sync.Mutex
	stopped bool

	db      *sql.DB
	slab    cdc.Slab   // the streamed records and their values
	offsets offsetSlab // the streamed records' offsets
	snap    *snapshot
	str     *stream
	// resume is where a new connection starts; it moves at each commit and each emitted row.
	resume resumePoint

	hbKey, hbValue *schema.Schema
	hist           *history
	schemas        *schemas
	lastReset      time.Time // when the newest whole-schema history entry was written

	nextConnect time.Time
	outage      cdc.Outage
}

func newTask() *task { return &task{} }

// newSource describes mysql-cdc's source block: Debezium's MySQL fields after the common ones.
func newSource() *cdc.Source {
	return cdc.NewSource("mysql", "io.debezium.connector.mysql.Source",
		cdc.SourceField{Name: "server_id", Schema: schema.Int64Schema},
		cdc.SourceField{Name: "gtid", Schema: schema.OptionalStringSchema},
		cdc.SourceField{Name: "file", Schema: schema.StringSchema},
		cdc.SourceField{Name: "pos", Schema: schema.Int64Schema},
		cdc.SourceField{Name: "row", Schema: schema.Int32Schema})
}

var _ plugins.SourceTask = (*task)(nil)

// Start checks the server's binlog settings and decides between a snapshot and streaming from the stored
// position.
func (t *task) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	cfg, err := parseConfig(tctx.Config())
	if err != nil {
		return err
	}
	t.cfg, t.log = cfg, tctx.Logger()
	t.src = newSource()
	t.hbKey = schema.StructBuilder().Name("io.debezium.connector.common.ServerNameKey").Field("serverName", schema.StringSchema).MustBuild()
	t.hbValue = schema.StructBuilder().Name("io.debezium.connector.common.Heartbeat").Field("ts_ms", schema.Int64Schema).MustBuild()
	t.partition = map[string]any{PartitionServer: cfg.prefix}
	t.life, t.cancel = context.WithCancel(context.Background())

	off, err := tctx.Positions().Position(ctx, t.partition)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("read stored position: %w", err))
	}
	dc := sqldriver.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = cfg.user, cfg.password, "tcp", fmt.Sprintf("%s:%d", cfg.host, cfg.port)
	dc.Logger = &sqldriver.NopLogger{}
	dc.Params = map[string]string{"time_zone": "'+00:00'"}
	conn, err := sqldriver.NewConnector(dc)
	if err != nil {
		return err
	}
	t.db = sql.OpenDB(conn)
	if err := t.checkServer(ctx); err != nil {
		return err
	}
	stored, rp, err := readOffset(off)
	if err != nil {
		return err
	}
	t.schemas = newSchemas()
	if err := t.openHistory(ctx, tctx); err != nil {
		return err
	}
	entries, exists, err := t.hist.load(ctx)
	if err != nil {
		return plugins.Retriable(err)
	}
	if stored {
		purged, err := t.purged(ctx, rp.file)
		if err != nil {
			return plugins.Retriable(err)
		}
		switch {
		case purged && cfg.snapshot != SnapshotWhenNeeded:
			return t.purgedError(rp)
		case purged:
			t.log.Warn("stored binlog position purged; taking a new snapshot", "file", rp.file, "pos", rp.pos)
		default:
			if t.lastReset = t.schemas.rebuild(entries, rp.file, rp.pos); !t.lastReset.IsZero() {
				t.resume = rp
				return nil
			}
			t.schemas = newSchemas()
			return t.recoverHistory(ctx, rp, exists, len(entries) > 0)
		}
	}
	if err := t.hist.create(ctx); err != nil {
		return plugins.Retriable(err)
	}
	switch cfg.snapshot {
	case SnapshotInitial, SnapshotWhenNeeded:
		return t.beginSnapshot(ctx)
	case SnapshotNever:
		var file string
		var size any
		if err := t.db.QueryRowContext(ctx, "SHOW BINARY LOGS").Scan(&file, &size); err != nil {
			return plugins.Retriable(fmt.Errorf("list binary logs: %w", err))
		}
		rp = resumePoint{file: file, pos: 4}
	default:
		if rp, err = t.currentPosition(ctx, t.db); err != nil {
			return plugins.Retriable(err)
		}
	}
	if err := t.recordCurrentSchemas(ctx, rp); err != nil {
		return err
	}
	t.resume = rp
	return nil
}

// recordCurrentSchemas records the captured tables' schemas as they are now as the schemas at
// rp: right when rp is the current position, an assumption (no DDL since) otherwise.
func (t *task) recordCurrentSchemas(ctx context.Context, rp resumePoint) error {
	tables, err := t.capturedTables(ctx, t.db)
	if err != nil {
		return plugins.Retriable(err)
	}
	return t.recordSchemas(ctx, t.db, tables, rp)
}

// recoverHistory handles a stored position without a schema history: snapshot.mode
// when_needed takes a new snapshot, schema_only and no_data record the schemas as they are
// now at the stored position (right when no DDL ran since), any other mode fails.
func (t *task) recoverHistory(ctx context.Context, rp resumePoint, exists, some bool) error {
	what := "is empty"
	switch {
	case !exists:
		what = "does not exist"
	case some:
		what = "has no whole schema at or before the stored position (its older messages expired?)"
	}
	switch t.cfg.snapshot {
	case SnapshotWhenNeeded:
		t.log.Warn("schema history missing; taking a new snapshot", "topic", t.cfg.historyTopic, "history", what)
		if err := t.hist.create(ctx); err != nil {
			return plugins.Retriable(err)
		}
		return t.beginSnapshot(ctx)
	case SnapshotSchemaOnly, SnapshotNoData:
		t.log.Warn("schema history missing; recording the tables' current schemas at the stored position",
			"topic", t.cfg.historyTopic, "history", what, "file", rp.file, "pos", rp.pos)
		if err := t.hist.create(ctx); err != nil {
			return plugins.Retriable(err)
		}
		if err := t.recordCurrentSchemas(ctx, rp); err != nil {
			return err
		}
		t.resume = rp
		return nil
	}
	return fmt.Errorf("%w: the schema history topic %s (%s) %s, but the connector has a stored position (binlog %s at %d): "+
		"without the history, binlog events written before a DDL cannot be decoded. Set %s=%s to take a new snapshot, or %s=%s "+
		"to record the tables' current schemas at the stored position (right only when no DDL ran on them since)",
		ErrSchemaHistory, t.cfg.historyTopic, KeyHistoryTopic, what, rp.file, rp.pos, KeySnapshotMode, SnapshotWhenNeeded,
		KeySnapshotMode, SnapshotSchemaOnly)
}

func readOffset(off map[string]any) (bool, resumePoint, error) {
	if off == nil || off[OffsetSnapshot] == true {
		return false, resumePoint{}, nil
	}
	file, _ := off[OffsetFile].(string)
	gtids, _ := off[OffsetGTIDs].(string)
	pos, _, err := position.Int64(off, OffsetPos)
	if err != nil || file == "" {
		return false, resumePoint{}, fmt.Errorf("%w: %v (%v)", ErrBadStoredPosition, off, err)
	}
	row, _, err := position.Int64(off, OffsetRow)
	if err != nil {
		return false, resumePoint{}, fmt.Errorf("%w: %v", ErrBadStoredPosition, err)
	}
	return true, resumePoint{file: file, pos: uint32(pos), gtids: gtids, skip: row}, nil
}

// checkServer requires the binlog settings row events need: ROW format with full images.
// Column names and types come from the schema history, so binlog_row_metadata may be
// anything (NO_LOG, MINIMAL or FULL; with FULL the names are checked against the history).
func (t *task) checkServer(ctx context.Context) error {
	var format, image string
	err := t.db.QueryRowContext(ctx, "SELECT @@global.binlog_format, @@global.binlog_row_image").Scan(&format, &image)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("read binlog settings of %s:%d: %w", t.cfg.host, t.cfg.port, err))
	}
	if !strings.EqualFold(format, "ROW") || !strings.EqualFold(image, "FULL") {
		return fmt.Errorf("%w: %s:%d has binlog_format=%s, binlog_row_image=%s; mysql-cdc needs ROW and FULL "+
			"(SET GLOBAL binlog_format=ROW, binlog_row_image=FULL, or the same in the server's config)",
			ErrServerConfig, t.cfg.host, t.cfg.port, format, image)
	}
	return nil
}

// purged reports whether file is no longer among the server's binary logs.
func (t *task) purged(ctx context.Context, file string) (bool, error) {
	rows, err := t.db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return false, fmt.Errorf("list binary logs: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return false, err
		}
		if name == file {
			return false, nil
		}
	}
	return true, rows.Err()
}

func (t *task) purgedError(rp resumePoint) error {
	return fmt.Errorf("%w: the stored position (binlog %s at %d, GTIDs %q) is no longer on %s:%d: the binlog was purged before "+
		"the connector read it, so the changes since are lost. Set %s=%s to take a new snapshot, or delete the connector's "+
		"stored offsets and restart it; keep binlogs longer (binlog_expire_logs_seconds) to avoid this",
		ErrBinlogPurged, rp.file, rp.pos, rp.gtids, t.cfg.host, t.cfg.port, KeySnapshotMode, SnapshotWhenNeeded)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// currentPosition is the end of the binlog and the GTID set there.
func (t *task) currentPosition(ctx context.Context, q queryer) (resumePoint, error) {
	var file, gtids string
	var pos int64
	var rest1, rest2 any
	if err := q.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &rest1, &rest2); err != nil {
		return resumePoint{}, fmt.Errorf("read binlog position (is log_bin on?): %w", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&gtids); err != nil {
		return resumePoint{}, fmt.Errorf("read GTID position: %w", err)
	}
	return resumePoint{file: file, pos: uint32(pos), gtids: gtids}, nil
}

// Poll returns snapshot rows until the snapshot is done, then streamed changes.
func (t *task) Poll(ctx context.Context) ([]*schema.Record, error) {
	t.run.Lock()
	defer t.run.Unlock()
	if t.stopped || t.life == nil {
		return nil, nil
	}
	// A Stop from another goroutine cancels life: the poll ends as if its own context were cancelled.
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(t.life, cancel)()
	defer cancel()
	if t.snap != nil {
		recs, err := t.pollSnapshot(ctx)
		if err != nil || len(recs) > 0 || t.snap != nil {
			return recs, err
		}
	}
	return t.pollStream(ctx)
}

// Commit does nothing: a binlog reader acknowledges nothing upstream.
func (t *task) Commit(context.Context) error { return nil }

// Stop ends a running Poll and closes the snapshot, the binlog connection and the pool; safe before Start,
// after a failed Start, while another goroutine polls, and twice.
func (t *task) Stop(context.Context) error {
	if t.cancel != nil {
		t.cancel()
	}
	t.run.Lock()
	defer t.run.Unlock()
	t.stopped = true
	if t.snap != nil {
		t.snap.close()
		t.snap = nil
	}
	if t.str != nil {
		t.str.close()
		t.str = nil
	}
	if t.db != nil {
		_ = t.db.Close()
	}
	if t.hist != nil {
		t.hist.close()
		t.hist = nil
	}
	return nil
}
