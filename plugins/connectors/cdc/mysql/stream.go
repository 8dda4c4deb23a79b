package mysql

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	sqldriver "github.com/go-sql-driver/mysql"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// stream is one binlog connection and what it has read.
type stream struct {
	syncer *replication.BinlogSyncer
	events *replication.BinlogStreamer
	ahead  *ahead
	file   string
	gtids  *gmysql.MariadbGTIDSet
	// checked maps a table id to the TABLE_MAP event last checked against the table's schema.
	checked map[uint64]checkedMap
	// skip is how many rows of the first transaction were emitted before (re)connecting.
	skip int64
	tx   struct {
		open bool
		// grouped: the transaction is a group that a commit (XID, COMMIT or ROLLBACK) ends, not a
		// statement of its own (a DDL); a statement inside it (SAVEPOINT, a CREATE TABLE … SELECT's
		// DDL) does not end it.
		grouped bool
		start   resumePoint
		gtid    *gmysql.MariadbGTID
		// gtidText is gtid as text, made at the transaction's first row.
		gtidText string
		row      int64
		// offset is where the transaction starts, shared by its rows' offsets (lazyOffset), made at its first
		// emitted row.
		offset *resumePoint
	}
	moved         bool
	lastHeartbeat time.Time
}

type checkedMap struct {
	tme *replication.TableMapEvent
	tb  *table
}

func (s *stream) close() { s.syncer.Close() }

// floor passes on only records at or above min: go-mysql logs its routine connects at Info, which
// normal operation must not.
type floor struct {
	slog.Handler
	min slog.Level
}

func (f floor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f floor) WithAttrs(a []slog.Attr) slog.Handler { return floor{f.Handler.WithAttrs(a), f.min} }
func (f floor) WithGroup(n string) slog.Handler      { return floor{f.Handler.WithGroup(n), f.min} }

// readAheadEvents bounds how many parsed binlog events go-mysql's reader holds ahead of Poll. Its default
// (10,240) lets a task whose Poll is slower than the reader keep up to ~80 MiB of row events (8 KiB each
// at the server's default binlog_row_event_max_size) and their decoded rows several times over, all of
// which the garbage collector marks on every cycle. In BenchmarkCDCThroughput/mariadb the live heap was
// 11-20 MB with the default and 3-8 MB with 256; a change cost 0.86-0.87 CPU-us instead of 1.08-1.15, and
// the task read 63-68% of the raw reader's rate instead of 50-55% (three alternating runs, load 1.4-1.7).
// 32 measured the same within the noise; 256 events still cover several polls' rows of small transactions.
const readAheadEvents = 256

func (t *task) openStream(ctx context.Context) error {
	var version string
	if err := t.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("connect to %s:%d: %w", t.cfg.host, t.cfg.port, err)
	}
	flavor := gmysql.MySQLFlavor
	if strings.Contains(strings.ToLower(version), "mariadb") {
		flavor = gmysql.MariaDBFlavor
	}
	ah := newAhead()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: t.cfg.serverID, Flavor: flavor, Host: t.cfg.host, Port: uint16(t.cfg.port), User: t.cfg.user,
		Password: t.cfg.password, DisableRetrySync: true, HeartbeatPeriod: 10 * time.Second, ReadTimeout: 30 * time.Second,
		TimestampStringLocation: time.UTC, Logger: slog.New(floor{t.log.Handler(), slog.LevelWarn}),
		// The task keeps its own GTID set (commitTx): go-mysql's copy of it on every event is not needed.
		RowsEventDecodeFunc: ah.decode, DiscardGTIDSet: true, EventCacheCount: readAheadEvents,
	})
	s := &stream{syncer: syncer, ahead: ah, file: t.resume.file, checked: map[uint64]checkedMap{}, skip: t.resume.skip,
		lastHeartbeat: time.Now()}
	var err error
	if flavor == gmysql.MariaDBFlavor {
		set, perr := gmysql.ParseMariadbGTIDSet(t.resume.gtids)
		if perr != nil {
			syncer.Close()
			return fmt.Errorf("%w: GTIDs %q: %v", ErrBadStoredPosition, t.resume.gtids, perr)
		}
		s.gtids = set.(*gmysql.MariadbGTIDSet)
		oneGTIDPerDomain(s.gtids)
	}
	if s.gtids != nil && t.resume.gtids != "" {
		s.events, err = syncer.StartSyncGTID(s.gtids.Clone())
	} else {
		s.events, err = syncer.StartSync(gmysql.Position{Name: t.resume.file, Pos: t.resume.pos})
	}
	if err != nil {
		syncer.Close()
		return fmt.Errorf("start binlog replication at %s:%d (GTIDs %q): %w", t.resume.file, t.resume.pos, t.resume.gtids, err)
	}
	t.str = s
	return nil
}

// purgedErr reports whether the server refused the position because its binlog is gone. Error 1236 also
// reports other fatal dump errors (another replica connected with the same server id, an event too big
// for max_allowed_packet): those are not a purged binlog, and a reconnect may get past them.
func purgedErr(err error) bool {
	s := err.Error()
	for _, says := range []string{"Could not find first log file", "Could not find GTID state", "purged",
		"not in the master's binlog", "not in the primary's binlog"} {
		if strings.Contains(s, says) {
			return true
		}
	}
	return false
}

// deniedErr reports whether the server refused the connector's user or a privilege it needs.
func deniedErr(err error) bool {
	var code uint16
	var me *gmysql.MyError
	var se *sqldriver.MySQLError
	switch {
	case errors.As(err, &me):
		code = me.Code
	case errors.As(err, &se):
		code = se.Number
	default:
		return false
	}
	switch code {
	case gmysql.ER_ACCESS_DENIED_ERROR, gmysql.ER_DBACCESS_DENIED_ERROR, gmysql.ER_SPECIFIC_ACCESS_DENIED_ERROR,
		gmysql.ER_TABLEACCESS_DENIED_ERROR:
		return true
	}
	return false
}

// lost drops the stream after a failure; the next poll reconnects after the back-off. A refused user
// fails the task instead (returned), with what to do.
func (t *task) lost(err error) error {
	if t.str != nil {
		t.str.close()
		t.str = nil
	}
	if deniedErr(err) {
		return fmt.Errorf("%w: binlog replication as user %q: %v (the user needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT on the captured tables)",
			ErrAccessDenied, t.cfg.user, err)
	}
	t.nextConnect = time.Now().Add(t.cfg.backoff)
	t.outage.Lost(t.log, "binlog connection lost", err)
	return nil
}

func (t *task) pollStream(ctx context.Context) ([]*schema.Record, error) {
	deadline := time.Now().Add(t.cfg.poll)
	if ctx.Err() != nil {
		return nil, nil
	}
	if t.str == nil {
		if wait := time.Until(t.nextConnect); wait > 0 {
			sleep(ctx, min(wait, t.cfg.poll))
			return nil, nil
		}
		if err := t.openStream(ctx); err != nil {
			if errors.Is(err, ErrBadStoredPosition) {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, nil // the poll was cancelled, the server not lost: the next poll opens the stream
			}
			return nil, t.lost(err)
		}
	}
	var out []*schema.Record
	// One deadline for the whole poll: a context per event costs a timer per event.
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for len(out) < t.cfg.maxBatch {
		ev, err := t.str.events.GetEvent(rctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if purgedErr(err) {
				return nil, fmt.Errorf("%w (server: %v)", t.purgedError(t.resume), err)
			}
			if err := t.lost(err); err != nil {
				return nil, err
			}
			break
		}
		t.outage.Resumed(t.log, "binlog replication resumed")
		if out, err = t.handle(out, ev); err != nil {
			return nil, err
		}
	}
	if err := t.refreshHistory(ctx); err != nil {
		return nil, err
	}
	if s := t.str; s != nil && t.cfg.heartbeat > 0 && s.moved && !s.tx.open && time.Since(s.lastHeartbeat) >= t.cfg.heartbeat {
		s.moved, s.lastHeartbeat = false, time.Now()
		key := schema.NewStruct(t.hbKey).MustPut("serverName", t.cfg.prefix)
		val := schema.NewStruct(t.hbValue).MustPut("ts_ms", time.Now().UnixMilli())
		hb := schema.NewRecord(t.cfg.heartbeatTopic, t.hbKey, key, t.hbValue, val)
		hb.SourcePartition, hb.SourceOffset, hb.Timestamp = t.partition, t.resume.offset(0), time.Now()
		out = append(out, hb)
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// handle handles one binlog event, appending its records to out.
func (t *task) handle(out []*schema.Record, ev *replication.BinlogEvent) ([]*schema.Record, error) {
	s := t.str
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		t.endOpenTx(h)
		g, err := mariadbGTID(ev)
		if err != nil {
			return out, err
		}
		t.beginTx(h, &g)
		s.tx.grouped = !e.IsStandalone() // MariaDB writes no BEGIN: a group that is not standalone ends with a commit
	case *replication.GTIDEvent:
		t.endOpenTx(h)
		t.beginTx(h, nil)
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch queryKind(q) {
		case queryBegin:
			if !s.tx.open {
				t.beginTx(h, nil)
			}
			s.tx.grouped = true
		case queryInTx:
			if !s.tx.open || !s.tx.grouped {
				t.commitTx(h) // not inside a group: the statement is one of its own
			}
		case queryEnd:
			t.commitTx(h)
		default:
			// A DDL, or another statement: the end of a group of its own (a standalone DDL, or the COMMIT
			// of a non-transactional engine's changes), but inside a group that a commit ends (MySQL 8's
			// CREATE TABLE … SELECT logs its DDL and its rows in one) the group goes on.
			if !s.tx.open || !s.tx.grouped {
				t.commitTx(h)
			}
			if tables, ok := dmlTables(q, string(e.Schema)); ok {
				for _, tb := range tables {
					if t.cfg.captured(tb[0], tb[1]) {
						return out, fmt.Errorf("%w: a change of %s.%s at %s:%d was logged as a statement (binlog_format "+
							"STATEMENT or MIXED, set for a session): it has no row events, and the connector would miss it; "+
							"set binlog_format=ROW for every writer, then take a new snapshot of the table",
							ErrServerConfig, tb[0], tb[1], s.file, h.LogPos)
					}
				}
			}
			if d, ok := parseDDL(q, string(e.Schema)); ok {
				return out, t.followDDL(h, q, d)
			}
		}
	case *replication.XIDEvent:
		t.commitTx(h)
	case *replication.RowsEvent:
		if h.EventType == replication.PARTIAL_UPDATE_ROWS_EVENT {
			// go-mysql reports it as a rows event of no kind: it would be read as inserts.
			return out, fmt.Errorf("%w: a partial JSON update (binlog_row_value_options=PARTIAL_JSON) at %s:%d has no full after image; set binlog_row_value_options to '' on the server (and in sessions), then take a new snapshot of the table: the changes of such updates are not in the binlog in full",
				ErrServerConfig, s.file, h.LogPos)
		}
		return t.rows(out, h, e)
	case *replication.TransactionPayloadEvent:
		// MySQL 8's binlog_transaction_compression: the transaction's events are inside, with positions
		// of their own the task cannot resume from.
		return out, fmt.Errorf("%w: a compressed transaction (binlog_transaction_compression=ON) at %s:%d; turn binlog_transaction_compression off on the server (and in sessions), then take a new snapshot of the tables: the connector does not read compressed transactions, and skipping them would lose their changes",
			ErrServerConfig, s.file, h.LogPos)
	}
	return out, nil
}

// The kinds of a query event's statement, as the transaction tracking sees them.
const (
	queryOther = iota // a DDL or another statement of its own
	queryBegin        // BEGIN, XA START: a group starts
	queryInTx         // SAVEPOINT, ROLLBACK TO, RELEASE SAVEPOINT, XA END: inside a group, which goes on
	queryEnd          // COMMIT, ROLLBACK, XA COMMIT, XA ROLLBACK: the group ends
)

// queryKind tells what a logged statement does to the transaction it is in.
func queryKind(q string) int {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) == 0 {
		return queryOther
	}
	second := ""
	if len(f) > 1 {
		second = f[1]
	}
	switch f[0] {
	case "BEGIN":
		return queryBegin
	case "SAVEPOINT", "RELEASE":
		return queryInTx
	case "COMMIT":
		return queryEnd
	case "ROLLBACK":
		if second == "TO" {
			return queryInTx
		}
		return queryEnd
	case "XA":
		switch second {
		case "START", "BEGIN":
			return queryBegin
		case "END":
			return queryInTx
		case "COMMIT", "ROLLBACK":
			return queryEnd
		}
	}
	return queryOther
}

// mariadbGTID is the GTID a MariaDB GTID event names, read from the event's own bytes: go-mysql's reader
// goroutine adds the event's GTID field by address to its GTID set when the (domain, server) pair is new to
// it, and then moves that field forward in place for the pair's later transactions, so the field can name a
// later transaction than the event's (and is written while this goroutine reads it). The body starts with
// the sequence number (8 bytes) and the domain (4 bytes), little-endian; the server is the header's.
func mariadbGTID(ev *replication.BinlogEvent) (gmysql.MariadbGTID, error) {
	body := ev.RawData[min(replication.EventHeaderSize, len(ev.RawData)):]
	if len(body) < 12 {
		return gmysql.MariadbGTID{}, fmt.Errorf("a GTID event of %d bytes at binlog position %d", len(ev.RawData), ev.Header.LogPos)
	}
	return gmysql.MariadbGTID{
		SequenceNumber: binary.LittleEndian.Uint64(body),
		DomainID:       binary.LittleEndian.Uint32(body[8:]),
		ServerID:       ev.Header.ServerID,
	}, nil
}

// setDomainGTID records g as the last transaction of its replication domain: MariaDB resumes from one
// GTID a domain (its slave connect state refuses two), and a domain's GTIDs come from more than one
// server after a switchover or on a multi-source replica.
func setDomainGTID(set *gmysql.MariadbGTIDSet, g *gmysql.MariadbGTID) {
	c := *g
	set.Sets[g.DomainID] = map[uint32]*gmysql.MariadbGTID{g.ServerID: &c}
}

// oneGTIDPerDomain keeps, of a stored set naming more than one server in a domain (stored before the task
// kept one), the GTID with the highest sequence number of each domain.
func oneGTIDPerDomain(set *gmysql.MariadbGTIDSet) {
	for d, servers := range set.Sets {
		if len(servers) < 2 {
			continue
		}
		var last *gmysql.MariadbGTID
		for _, g := range servers {
			if last == nil || g.SequenceNumber > last.SequenceNumber {
				last = g
			}
		}
		set.Sets[d] = map[uint32]*gmysql.MariadbGTID{last.ServerID: last}
	}
}

// endOpenTx ends, where the event of header h starts, a transaction still open when the next one's
// GTID event comes (one whose end the task did not recognise): a group never starts inside another.
func (t *task) endOpenTx(h *replication.EventHeader) {
	if !t.str.tx.open {
		return
	}
	end := *h
	end.LogPos -= h.EventSize
	t.commitTx(&end)
}

func (t *task) beginTx(h *replication.EventHeader, gtid *gmysql.MariadbGTID) {
	s := t.str
	var before string
	if s.gtids != nil {
		before = s.gtids.String()
	}
	s.tx.open, s.tx.grouped, s.tx.gtid, s.tx.gtidText, s.tx.row, s.tx.offset = true, false, gtid, "", 0, nil
	s.tx.start = resumePoint{file: s.file, pos: h.LogPos - h.EventSize, gtids: before}
}

func (t *task) commitTx(h *replication.EventHeader) {
	s := t.str
	if s.tx.gtid != nil && s.gtids != nil {
		setDomainGTID(s.gtids, s.tx.gtid)
	}
	s.tx.open, s.tx.grouped, s.tx.gtid, s.tx.gtidText, s.tx.offset, s.skip = false, false, nil, "", nil, 0
	var gtids string
	if s.gtids != nil {
		gtids = s.gtids.String()
	}
	t.resume = resumePoint{file: s.file, pos: h.LogPos, gtids: gtids}
	s.moved = true
}

// rows appends the records of a row event's captured rows to out.
func (t *task) rows(out []*schema.Record, h *replication.EventHeader, e *replication.RowsEvent) ([]*schema.Record, error) {
	s := t.str
	if !s.tx.open {
		t.beginTx(h, nil)
	}
	tme := e.Table
	db, name := string(tme.Schema), string(tme.Table)
	captured := t.cfg.captured(db, name)
	var tb *table
	if captured {
		var err error
		if tb, err = t.tableFor(h, e.TableID, tme); err != nil {
			return nil, err
		}
	}
	if captured && (!allPresent(e.ColumnBitmap1, e.ColumnCount) ||
		e.Type() == replication.EnumRowsEventTypeUpdate && !allPresent(e.ColumnBitmap2, e.ColumnCount)) {
		return nil, fmt.Errorf("%w: a change of %s.%s at %s:%d holds only some of its columns (binlog_row_image MINIMAL or "+
			"NOBLOB, set for a session or globally): its records would be wrong; set binlog_row_image=FULL for every writer",
			ErrServerConfig, db, name, s.file, h.LogPos)
	}
	var pre bool // e.Rows are tb's row images, converted ahead
	if s.ahead != nil {
		var err error
		if pre, err = s.ahead.take(e, tb, &t.slab); err != nil {
			return nil, err
		}
	}
	image := func(i int) ([]any, error) {
		if pre {
			return e.Rows[i], nil
		}
		return tb.decode(e.Rows[i], &t.slab)
	}
	op, step := cdc.OpCreate, 1
	switch e.Type() {
	case replication.EnumRowsEventTypeUpdate:
		op, step = cdc.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = cdc.OpDelete
	}
	var src *cdc.Varying // the source block of this event's rows, made at the first emitted one
	var now time.Time
	var nowMs any
	for i := 0; i+step <= len(e.Rows); i += step {
		s.tx.row++
		if s.tx.row <= s.skip || !captured {
			continue
		}
		var before, after []any
		var err error
		switch op {
		case cdc.OpCreate:
			after, err = image(i)
		case cdc.OpDelete:
			before, err = image(i)
		default:
			if before, err = image(i); err == nil {
				after, err = image(i + 1)
			}
		}
		if err != nil {
			return nil, err
		}
		rop := op
		if tb.end >= 0 {
			var ok bool
			if rop, before, after, ok = tb.versionedChange(op, before, after); !ok {
				continue
			}
		}
		if src == nil {
			if s.tx.gtid != nil && s.tx.gtidText == "" {
				s.tx.gtidText = s.tx.gtid.String()
			}
			src, err = t.src.Varying(cdc.SourceInfo{Connector: "mysql", Name: t.cfg.prefix, Ts: time.Unix(int64(h.Timestamp), 0),
				DB: db, Table: name, Position: []any{int64(h.ServerID), s.tx.gtidText, s.file, int64(h.LogPos - h.EventSize), int32(0)}})
			if err != nil {
				return nil, err
			}
			now = time.Now()
			nowMs = now.UnixMilli()
		}
		if s.tx.offset == nil {
			start := s.tx.start
			s.tx.offset = &start
		}
		if out == nil {
			out = make([]*schema.Record, 0, min(t.cfg.maxBatch, 8192)+step) // a poll's records, in one allocation
		}
		off := t.offsets.next(s.tx.offset, s.tx.row)
		if out, err = tb.t.AppendRecords(out, cdc.Event{Op: rop, Before: before, After: after, Source: src.StructIn(&t.slab, int32(i/step)),
			Partition: t.partition, LazyOffset: off, Now: now, NowMs: nowMs, Slab: &t.slab}, t.cfg.tombstones); err != nil {
			return nil, err
		}
		t.resume = s.tx.start
		t.resume.skip = s.tx.row
	}
	return out, nil
}

// decode converts a row image the binlog decoder made into the table's values, in slices from slab.
func (tb *table) decode(row []any, slab *cdc.Slab) ([]any, error) {
	if len(row) != len(tb.cols) {
		return nil, fmt.Errorf("%w: table %s.%s: a row with %d columns, its schema has %d", ErrSchemaHistory, tb.db, tb.name, len(row), len(tb.cols))
	}
	vals := slab.Values(len(row))
	for i, raw := range row {
		v, err := tb.cols[i].valueIn(raw, slab)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s: %w", tb.db, tb.name, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// historyTimeout bounds one read of the catalog and write of the schema history.
const historyTimeout = 30 * time.Second

// followDDL records the schemas a DDL statement left, at the position right after it, in the
// history before any later event is decoded. A replay after a restart finds the statement's
// entry in the history and uses it. The first time, the statement itself is applied to the
// schema before it (ALTER TABLE column and primary-key changes, CREATE TABLE with column
// definitions, DROP and RENAME TABLE), which stays right however far the stream is behind
// the server; a statement not understood makes the connector read the table from
// information_schema, which is right unless a later DDL changed the table already (the
// checks in tableFor then fail the task rather than decode with the wrong columns).
func (t *task) followDDL(h *replication.EventHeader, stmt string, d ddlTarget) error {
	s := t.str
	key := posKey(s.file, h.LogPos)
	if ahead, ok := t.schemas.ahead[key]; ok {
		for _, e := range ahead {
			t.schemas.apply(e)
		}
		delete(t.schemas.ahead, key)
		clear(s.checked)
		return nil
	}
	ctx, cancel := context.WithTimeout(t.life, historyTimeout)
	defer cancel()
	e := historyEntry{File: s.file, Pos: h.LogPos, GTIDs: t.resume.gtids, DDL: stmt}
	known := func(tb [2]string) *tableSchema { return t.schemas.tables[tb[0]+"."+tb[1]] }
	add := func(ts tableSchema) {
		if t.cfg.captured(ts.DB, ts.Table) && (!ts.Dropped || t.schemas.tables[ts.id()] != nil) {
			e.Tables = append(e.Tables, ts)
		}
	}
	var unresolved [][2]string
	switch {
	case d.drop:
		for _, tb := range d.tables {
			add(tableSchema{DB: tb[0], Table: tb[1], Dropped: true})
		}
	case d.rename:
		for i := 0; i+1 < len(d.tables); i += 2 {
			from, to := d.tables[i], d.tables[i+1]
			prev := known(from)
			if prev == nil {
				unresolved = append(unresolved, to)
				continue
			}
			add(tableSchema{DB: from[0], Table: from[1], Dropped: true})
			moved := *prev
			moved.DB, moved.Table = to[0], to[1]
			add(moved)
		}
	case d.alter != nil:
		src := d.tables[0]
		prev := known(src)
		next, ok := tableSchema{}, false
		if prev != nil {
			next, ok = applyAlter(*prev, d.alter)
		}
		if !ok {
			unresolved = d.tables
			break
		}
		if len(d.tables) > 1 { // renamed by the ALTER
			add(tableSchema{DB: src[0], Table: src[1], Dropped: true})
			next.DB, next.Table = d.tables[1][0], d.tables[1][1]
		}
		add(next)
	case d.create != nil:
		if ts, ok := parseCreate(d.tables[0][0], d.tables[0][1], d.create); ok {
			if ts.Charset == "" { // the database's default
				row := t.db.QueryRowContext(ctx, `SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, ts.DB)
				if err := row.Scan(&ts.Charset); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("follow DDL %q: default character set of database %s: %w", stmt, ts.DB, err)
				}
				ts.fillCharsets()
			}
			add(ts)
		} else {
			unresolved = d.tables
		}
	default:
		unresolved = d.tables
	}
	seen := map[string]bool{}
	for _, tb := range unresolved {
		id := tb[0] + "." + tb[1]
		if seen[id] || !t.cfg.captured(tb[0], tb[1]) {
			continue
		}
		seen[id] = true
		ts, err := readSchema(ctx, t.db, tb[0], tb[1])
		if err != nil {
			return fmt.Errorf("follow DDL %q: %w", stmt, err)
		}
		add(ts)
	}
	for _, db := range d.dropDBs {
		for _, ts := range t.schemas.tables {
			if ts.DB == db {
				add(tableSchema{DB: ts.DB, Table: ts.Table, Dropped: true})
			}
		}
	}
	if len(e.Tables) == 0 {
		return nil
	}
	if err := t.hist.write(ctx, e); err != nil {
		return fmt.Errorf("%w: %v", ErrSchemaHistory, err)
	}
	t.schemas.apply(e)
	clear(s.checked)
	return nil
}

// tableFor returns the captured table a row event belongs to, in the schema the history
// holds for the stream's position, after checking it against the TABLE_MAP event: the
// column count, each column's type family and, when the server logs them
// (binlog_row_metadata=FULL), the column names.
func (t *task) tableFor(h *replication.EventHeader, id uint64, tme *replication.TableMapEvent) (*table, error) {
	s := t.str
	if c, ok := s.checked[id]; ok && c.tme == tme {
		return c.tb, nil
	}
	db, name := string(tme.Schema), string(tme.Table)
	ts := t.schemas.tables[db+"."+name]
	if ts == nil {
		// No history for the table (streaming from a position before any record of it):
		// the catalog's shape now, recorded at the start of this transaction.
		ctx, cancel := context.WithTimeout(t.life, historyTimeout)
		defer cancel()
		read, err := readSchema(ctx, t.db, db, name)
		if err != nil {
			return nil, err
		}
		if read.Dropped {
			return nil, fmt.Errorf("%w: table %s.%s has rows at binlog %s:%d but no recorded schema and no longer exists",
				ErrSchemaHistory, db, name, s.file, h.LogPos-h.EventSize)
		}
		e := historyEntry{File: s.tx.start.file, Pos: s.tx.start.pos, GTIDs: s.tx.start.gtids, Tables: []tableSchema{read}}
		if err := t.hist.write(ctx, e); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSchemaHistory, err)
		}
		t.schemas.apply(e)
		ts = t.schemas.tables[db+"."+name]
	}
	tb, err := t.tableOf(ts)
	if err != nil {
		return nil, err
	}
	if err := matchTableMap(ts, tme); err != nil {
		return nil, fmt.Errorf("%w: table %s.%s at binlog %s:%d: %v; the schema history topic %s does not describe this event "+
			"(a DDL the connector could not follow, or a history from another server). Recover with %s=%s and the connector's stored offsets deleted",
			ErrSchemaHistory, db, name, s.file, h.LogPos-h.EventSize, err, t.cfg.historyTopic, KeySnapshotMode, SnapshotWhenNeeded)
	}
	s.checked[id] = checkedMap{tme: tme, tb: tb}
	if s.ahead != nil {
		s.ahead.publish(id, tb)
	}
	return tb, nil
}

// family groups column types whose values decode alike.
type family int

const (
	famOther family = iota // not checked
	famInt
	famFloat
	famDecimal
	famDate
	famDateTime
	famTime
	famYear
	famBit
	famText
)

func binlogFamily(typ byte) family {
	switch typ {
	case gmysql.MYSQL_TYPE_TINY, gmysql.MYSQL_TYPE_SHORT, gmysql.MYSQL_TYPE_INT24, gmysql.MYSQL_TYPE_LONG, gmysql.MYSQL_TYPE_LONGLONG:
		return famInt
	case gmysql.MYSQL_TYPE_FLOAT, gmysql.MYSQL_TYPE_DOUBLE:
		return famFloat
	case gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_DECIMAL:
		return famDecimal
	case gmysql.MYSQL_TYPE_DATE, gmysql.MYSQL_TYPE_NEWDATE:
		return famDate
	case gmysql.MYSQL_TYPE_DATETIME, gmysql.MYSQL_TYPE_DATETIME2, gmysql.MYSQL_TYPE_TIMESTAMP, gmysql.MYSQL_TYPE_TIMESTAMP2:
		return famDateTime
	case gmysql.MYSQL_TYPE_TIME, gmysql.MYSQL_TYPE_TIME2:
		return famTime
	case gmysql.MYSQL_TYPE_YEAR:
		return famYear
	case gmysql.MYSQL_TYPE_BIT:
		return famBit
	case gmysql.MYSQL_TYPE_STRING, gmysql.MYSQL_TYPE_VAR_STRING, gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_BLOB,
		gmysql.MYSQL_TYPE_TINY_BLOB, gmysql.MYSQL_TYPE_MEDIUM_BLOB, gmysql.MYSQL_TYPE_LONG_BLOB, gmysql.MYSQL_TYPE_ENUM,
		gmysql.MYSQL_TYPE_SET, gmysql.MYSQL_TYPE_JSON, gmysql.MYSQL_TYPE_GEOMETRY:
		return famText
	}
	return famOther
}

func catalogFamily(dataType string) family {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return famInt
	case "float", "double", "real":
		return famFloat
	case "decimal", "numeric":
		return famDecimal
	case "date":
		return famDate
	case "datetime", "timestamp":
		return famDateTime
	case "time":
		return famTime
	case "year":
		return famYear
	case "bit":
		return famBit
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "binary", "varbinary", "tinyblob", "blob",
		"mediumblob", "longblob", "enum", "set", "json":
		return famText
	}
	return famOther
}

func matchTableMap(ts *tableSchema, tme *replication.TableMapEvent) error {
	if int(tme.ColumnCount) != len(ts.Columns) {
		return fmt.Errorf("the binlog has %d columns, the recorded schema %d", tme.ColumnCount, len(ts.Columns))
	}
	names := tme.ColumnName
	for i, c := range ts.Columns {
		if len(names) == len(ts.Columns) && string(names[i]) != c.Name {
			return fmt.Errorf("column %d is %s in the binlog, %s in the recorded schema", i+1, names[i], c.Name)
		}
		bf, cf := binlogFamily(tme.ColumnType[i]), catalogFamily(c.DataType)
		if bf != famOther && cf != famOther && bf != cf {
			return fmt.Errorf("column %s has binlog type %d, recorded type %s", c.Name, tme.ColumnType[i], c.DataType)
		}
	}
	return nil
}

// lazyOffset is a row's offset: its transaction's start, with the row number n.
type lazyOffset struct {
	tx *resumePoint
	n  int64
}

func (o *lazyOffset) Offset() map[string]any { return o.tx.offset(o.n) }

// offsetSlab hands out lazy offsets from chunks, as cdc.Slab does values; never reused.
type offsetSlab []lazyOffset

func (s *offsetSlab) next(tx *resumePoint, n int64) *lazyOffset {
	if len(*s) == 0 {
		*s = make([]lazyOffset, 256)
	}
	o := &(*s)[0]
	*s = (*s)[1:]
	o.tx, o.n = tx, n
	return o
}

// allPresent reports whether a rows event's column bitmap names every one of its n columns.
func allPresent(bitmap []byte, n uint64) bool {
	if uint64(len(bitmap))*8 < n {
		return false
	}
	for i := range n {
		if bitmap[i>>3]&(1<<(i&7)) == 0 {
			return false
		}
	}
	return true
}
