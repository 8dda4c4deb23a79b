package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// stream is one binlog connection and what it has read.
type stream struct {
	syncer *replication.BinlogSyncer
	events *replication.BinlogStreamer
	file   string
	gtids  *gmysql.MariadbGTIDSet
	tables map[uint64]*cachedTable
	// skip is how many rows of the first transaction were emitted before (re)connecting.
	skip int64
	tx   struct {
		open  bool
		start resumePoint
		gtid  *gmysql.MariadbGTID
		row   int64
	}
	moved         bool
	lastHeartbeat time.Time
}

type cachedTable struct {
	tme *replication.TableMapEvent
	sig string
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

func (t *task) openStream(ctx context.Context) error {
	var version string
	if err := t.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("connect to %s:%d: %w", t.cfg.host, t.cfg.port, err)
	}
	flavor := gmysql.MySQLFlavor
	if strings.Contains(strings.ToLower(version), "mariadb") {
		flavor = gmysql.MariaDBFlavor
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: t.cfg.serverID, Flavor: flavor, Host: t.cfg.host, Port: uint16(t.cfg.port), User: t.cfg.user,
		Password: t.cfg.password, DisableRetrySync: true, HeartbeatPeriod: 10 * time.Second, ReadTimeout: 30 * time.Second,
		TimestampStringLocation: time.UTC, Logger: slog.New(floor{t.log.Handler(), slog.LevelWarn}),
	})
	s := &stream{syncer: syncer, file: t.resume.file, tables: map[uint64]*cachedTable{}, skip: t.resume.skip,
		lastHeartbeat: time.Now()}
	var err error
	if flavor == gmysql.MariaDBFlavor {
		set, perr := gmysql.ParseMariadbGTIDSet(t.resume.gtids)
		if perr != nil {
			syncer.Close()
			return fmt.Errorf("%w: GTIDs %q: %v", ErrBadStoredPosition, t.resume.gtids, perr)
		}
		s.gtids = set.(*gmysql.MariadbGTIDSet)
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

// purgedErr reports whether the server refused the position: its binlog is gone.
func purgedErr(err error) bool {
	var me *gmysql.MyError
	if errors.As(err, &me) && me.Code == gmysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "ERROR 1236") || strings.Contains(s, "Could not find first log file") ||
		strings.Contains(s, "Could not find GTID state")
}

func (t *task) lost(err error) {
	if t.str != nil {
		t.str.close()
		t.str = nil
	}
	t.nextConnect = time.Now().Add(t.cfg.backoff)
	if t.lostSince.IsZero() {
		t.lostSince = time.Now()
		t.log.Warn("binlog connection lost; reconnecting", "err", err)
	}
}

func (t *task) pollStream(ctx context.Context) ([]*schema.Record, error) {
	deadline := time.Now().Add(t.cfg.poll)
	if t.str == nil {
		if wait := time.Until(t.nextConnect); wait > 0 {
			sleep(ctx, min(wait, t.cfg.poll))
			return nil, nil
		}
		if err := t.openStream(ctx); err != nil {
			if errors.Is(err, ErrBadStoredPosition) {
				return nil, err
			}
			t.lost(err)
			return nil, nil
		}
	}
	var out []*schema.Record
	for len(out) < t.cfg.maxBatch {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		ev, err := t.str.events.GetEvent(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if purgedErr(err) {
				return nil, fmt.Errorf("%w (server: %v)", t.purgedError(t.resume), err)
			}
			t.lost(err)
			break
		}
		if !t.lostSince.IsZero() {
			t.log.Info("binlog replication resumed", "down", time.Since(t.lostSince).Round(time.Millisecond))
			t.lostSince = time.Time{}
		}
		recs, err := t.handle(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
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

func (t *task) handle(ev *replication.BinlogEvent) ([]*schema.Record, error) {
	s := t.str
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		g := e.GTID
		t.beginTx(h, &g)
	case *replication.GTIDEvent:
		t.beginTx(h, nil)
	case *replication.QueryEvent:
		switch q := strings.TrimSpace(string(e.Query)); {
		case strings.EqualFold(q, "BEGIN"):
			if !s.tx.open {
				t.beginTx(h, nil)
			}
		default: // COMMIT of a non-transactional engine, or a DDL: both end their transaction
			t.commitTx(h)
		}
	case *replication.XIDEvent:
		t.commitTx(h)
	case *replication.RowsEvent:
		return t.rows(h, e)
	}
	return nil, nil
}

func (t *task) beginTx(h *replication.EventHeader, gtid *gmysql.MariadbGTID) {
	s := t.str
	var before string
	if s.gtids != nil {
		before = s.gtids.String()
	}
	s.tx.open, s.tx.gtid, s.tx.row = true, gtid, 0
	s.tx.start = resumePoint{file: s.file, pos: h.LogPos - h.EventSize, gtids: before}
}

func (t *task) commitTx(h *replication.EventHeader) {
	s := t.str
	if s.tx.gtid != nil && s.gtids != nil {
		_ = s.gtids.AddSet(s.tx.gtid)
	}
	s.tx.open, s.tx.gtid, s.skip = false, nil, 0
	var gtids string
	if s.gtids != nil {
		gtids = s.gtids.String()
	}
	t.resume = resumePoint{file: s.file, pos: h.LogPos, gtids: gtids}
	s.moved = true
}

func (t *task) rows(h *replication.EventHeader, e *replication.RowsEvent) ([]*schema.Record, error) {
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
		if tb, err = t.tableFor(e.TableID, tme); err != nil {
			return nil, err
		}
	}
	op, step := cdc.OpCreate, 1
	switch e.Type() {
	case replication.EnumRowsEventTypeUpdate:
		op, step = cdc.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = cdc.OpDelete
	}
	var out []*schema.Record
	for i := 0; i+step <= len(e.Rows); i += step {
		s.tx.row++
		if s.tx.row <= s.skip || !captured {
			continue
		}
		var before, after []any
		var err error
		switch op {
		case cdc.OpCreate:
			after, err = tb.decode(e.Rows[i])
		case cdc.OpDelete:
			before, err = tb.decode(e.Rows[i])
		default:
			if before, err = tb.decode(e.Rows[i]); err == nil {
				after, err = tb.decode(e.Rows[i+1])
			}
		}
		if err != nil {
			return nil, err
		}
		var gtid string
		if s.tx.gtid != nil {
			gtid = s.tx.gtid.String()
		}
		src, err := t.src.Struct(cdc.SourceInfo{Connector: "mysql", Name: t.cfg.prefix, Ts: time.Unix(int64(h.Timestamp), 0),
			DB: db, Table: name, Position: []any{int64(h.ServerID), gtid, s.file, int64(h.LogPos - h.EventSize), int32(i / step)}})
		if err != nil {
			return nil, err
		}
		recs, err := tb.t.Records(cdc.Event{Op: op, Before: before, After: after, Source: src, Partition: t.partition,
			Offset: s.tx.start.offset(s.tx.row), Now: time.Now()}, t.cfg.tombstones)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		t.resume = s.tx.start
		t.resume.skip = s.tx.row
	}
	return out, nil
}

func (tb *table) decode(row []any) ([]any, error) {
	if len(row) != len(tb.cols) {
		return nil, fmt.Errorf("table %s.%s: a row with %d columns, the table map has %d", tb.db, tb.name, len(row), len(tb.cols))
	}
	vals := make([]any, len(row))
	for i, raw := range row {
		v, err := tb.cols[i].value(raw)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s: %w", tb.db, tb.name, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// tableFor returns the table a TABLE_MAP event describes, rebuilt only when its shape changed.
func (t *task) tableFor(id uint64, tme *replication.TableMapEvent) (*table, error) {
	c := t.str.tables[id]
	if c != nil && c.tme == tme {
		return c.tb, nil
	}
	sig := signature(tme)
	if c != nil && c.sig == sig {
		c.tme = tme
		return c.tb, nil
	}
	names := tme.ColumnNameString()
	if len(names) != int(tme.ColumnCount) {
		return nil, fmt.Errorf("%w: the binlog has no column names for %s.%s (binlog_row_metadata is not FULL)",
			ErrServerConfig, tme.Schema, tme.Table)
	}
	unsigned, coll := tme.UnsignedMap(), tme.CollationMap()
	enums, sets := tme.EnumStrValueMap(), tme.SetStrValueMap()
	cols := make([]*column, len(names))
	for i, n := range names {
		typ := tme.ColumnType[i]
		if typ == gmysql.MYSQL_TYPE_STRING {
			if rt := byte(tme.ColumnMeta[i] >> 8); rt == gmysql.MYSQL_TYPE_ENUM || rt == gmysql.MYSQL_TYPE_SET {
				typ = rt
			}
		}
		binary := false
		if cid, ok := coll[i]; ok && cid == 63 {
			binary = true
		}
		col := &column{name: n, kind: kindFromBinlog(typ, unsigned[i], binary), unsigned: unsigned[i], width: width(typ)}
		switch typ {
		case gmysql.MYSQL_TYPE_NEWDECIMAL:
			col.scale = int32(tme.ColumnMeta[i] & 0xff)
		case gmysql.MYSQL_TYPE_ENUM:
			col.enum = enums[i]
			if col.enum == nil {
				col.enum = []string{}
			}
		case gmysql.MYSQL_TYPE_SET:
			col.set = sets[i]
			if col.set == nil {
				col.set = []string{}
			}
		}
		cols[i] = col
	}
	var pk []string
	for _, k := range tme.PrimaryKey {
		if int(k) < len(names) {
			pk = append(pk, names[k])
		}
	}
	tb, err := t.newTable(string(tme.Schema), string(tme.Table), cols, pk)
	if err != nil {
		return nil, err
	}
	t.str.tables[id] = &cachedTable{tme: tme, sig: sig, tb: tb}
	return tb, nil
}

func width(typ byte) int {
	switch typ {
	case gmysql.MYSQL_TYPE_TINY:
		return 1
	case gmysql.MYSQL_TYPE_SHORT:
		return 2
	case gmysql.MYSQL_TYPE_INT24:
		return 3
	case gmysql.MYSQL_TYPE_LONG:
		return 4
	}
	return 8
}

// signature identifies a table map's shape.
func signature(tme *replication.TableMapEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s|%x|%v|%x|%v|", tme.Schema, tme.Table, tme.ColumnType, tme.ColumnMeta, tme.SignednessBitmap, tme.PrimaryKey)
	for _, n := range tme.ColumnName {
		b.Write(n)
		b.WriteByte(0)
	}
	fmt.Fprintf(&b, "|%v|%v|%v", tme.ColumnCharset, tme.EnumStrValue, tme.SetStrValue)
	return b.String()
}
