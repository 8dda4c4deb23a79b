package jdbc

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// sinkConfig is the parsed configuration of jdbc-sink.
type sinkConfig struct {
	target       *target
	insertMode   string
	pkMode       string
	pkFields     []string
	autoCreate   bool
	autoEvolve   bool
	deletes      bool
	tableFormat  string
	batchSize    int
	exactlyOnce  bool
	offsetsTable string
	connector    string
}

// parseSinkConfig checks the rules across keys of values parsed against sinkSpec (by the engine, or by
// Validate) and reads them; the connector's name keys the exactly-once offsets.
func parseSinkConfig(v plugins.Values, name string) (*sinkConfig, error) {
	var err error
	c := &sinkConfig{insertMode: v.String(KeyInsertMode), pkMode: v.String(KeyPKMode), pkFields: v.List(KeyPKFields),
		autoCreate: v.Bool(KeyAutoCreate), autoEvolve: v.Bool(KeyAutoEvolve), deletes: v.Bool(KeyDeleteEnabled),
		tableFormat: v.String(KeyTableNameFormat), batchSize: v.Int(KeyBatchSize),
		exactlyOnce: v.String(KeyDelivery) == ExactlyOnce, offsetsTable: v.String(KeyOffsetsTable), connector: name}
	var errs cfgerr.List
	if c.insertMode != InsertInsert && c.pkMode == PKNone {
		errs = append(errs, &cfgerr.Error{Key: KeyPKMode, Value: c.pkMode,
			Reason: "insert.mode=" + c.insertMode + " needs a primary key (record_key or record_value)", Err: plugins.ErrInvalidValue})
	}
	if c.deletes && c.pkMode != PKRecordKey {
		errs = append(errs, &cfgerr.Error{Key: KeyDeleteEnabled, Value: "true",
			Reason: "needs pk.mode=record_key (a deleted row is found by the record key)", Err: plugins.ErrInvalidValue})
	}
	c.target, err = parseTarget(v.String(KeyURL), v.String(KeyUser), v.Password(KeyPassword))
	if err != nil {
		errs = append(errs, &cfgerr.Error{Key: KeyURL, Reason: err.Error(), Err: plugins.ErrInvalidValue})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// KeyOrdering is the engine's key for per-queue ordered delivery, which the exactly-once sink needs: its
// per-queue watermark assumes a queue's records arrive in offset order.
const KeyOrdering = plugins.KeyOrdering

// SinkConnector is jdbc-sink. Its tasks share nothing: RocketMQ spreads the queues over them.
type SinkConnector struct {
	cfg map[string]string
}

// NewSinkConnector returns an unstarted jdbc-sink connector.
func NewSinkConnector() *SinkConnector { return &SinkConnector{} }

var _ plugins.SinkConnector = (*SinkConnector)(nil)

// Spec declares the connection, write mode, key, DDL and delivery keys.
func (c *SinkConnector) Spec() *plugins.ConfigSpec { return sinkSpec }

// Validate checks cfg against Spec and the cross-key rules; it does not connect.
func (c *SinkConnector) Validate(cfg map[string]string) error {
	v, err := sinkSpec.Parse(cfg)
	if err != nil {
		return err
	}
	sc, err := parseSinkConfig(v, cfg["name"])
	if err != nil {
		return err
	}
	if sc.exactlyOnce && !strings.EqualFold(strings.TrimSpace(cfg[KeyOrdering]), "true") {
		return cfgerr.List{{Key: KeyDelivery, Value: ExactlyOnce, Err: plugins.ErrInvalidValue,
			Reason: "needs " + KeyOrdering + "=true: the stored offsets are per-queue watermarks, so a queue's records " +
				"must be delivered in order"}}
	}
	return nil
}

// Start keeps cfg for TaskConfigs.
func (c *SinkConnector) Start(_ context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	if _, err := parseSinkConfig(cctx.Config(), cfg["name"]); err != nil {
		return err
	}
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns maxTasks copies of the configuration.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return plugins.IdenticalTaskConfigs(c.cfg, maxTasks), nil
}

// Stop does nothing; the connector holds no resources.
func (c *SinkConnector) Stop(context.Context) error { return nil }

// NewSinkTask returns an unstarted SinkTask.
func (c *SinkConnector) NewSinkTask() plugins.SinkTask { return NewSinkTask() }

// SinkTask writes each Put in one transaction (so Flush has nothing left to do). Put and Stop may race;
// they are serialised.
type SinkTask struct {
	mu      sync.Mutex
	sc      *sinkConfig
	d       dialect
	db      *sql.DB
	tctx    plugins.SinkTaskContext
	tables  map[tableID]*tableInfo
	offsets map[plugins.Queue]int64 // exactly-once: next offset to write, per queue
	// knownQueues have a row in the offsets table.
	knownQueues map[plugins.Queue]bool
	stopped     bool
	shapes      shapeCache // Put's, under mu
}

// shapeCache keeps what consecutive records of one topic and shape share, so a row costs no copy of it:
// the last topic's table, and the last column list with its signature (ops share it; nobody modifies it).
type shapeCache struct {
	topic  string
	table  tableID
	cols   []string
	schema string
	buf    []string // the row being planned's columns
}

// tableInfo is what the task knows of a destination table.
type tableInfo struct {
	cols map[string]bool // by name; lower-cased when fold is set
	fold bool            // column names are case-insensitive (MySQL, MariaDB)
}

// has reports whether the table has a column of that name.
func (i *tableInfo) has(name string) bool {
	if i.fold {
		name = strings.ToLower(name)
	}
	return i.cols[name]
}

func (i *tableInfo) add(name string) {
	if i.fold {
		name = strings.ToLower(name)
	}
	i.cols[name] = true
}

// NewSinkTask returns an unstarted jdbc-sink task.
func NewSinkTask() *SinkTask { return &SinkTask{} }

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start connects; in exactly-once mode it creates the offsets table when missing, reads this connector's
// offsets and asks the engine to consume from them.
func (t *SinkTask) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	sc, err := parseSinkConfig(tctx.Config(), cfg["name"])
	if err != nil {
		return err
	}
	db, err := sc.target.connect(ctx, 4)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.db != nil {
		_ = db.Close()
		return fmt.Errorf("jdbc-sink: start: task already started or stopped: %w", ErrStopped)
	}
	t.sc, t.d, t.db, t.tctx, t.tables = sc, dialect{sc.target.dialect}, db, tctx, map[tableID]*tableInfo{}
	if sc.exactlyOnce {
		offs, err := t.loadOffsets(ctx)
		if err != nil {
			_ = db.Close()
			t.db = nil
			return err
		}
		t.offsets = offs
		t.knownQueues = map[plugins.Queue]bool{}
		for q := range offs {
			t.knownQueues[q] = true
		}
		if len(offs) > 0 {
			tctx.ResetOffsets(maps.Clone(offs))
		}
	}
	return nil
}

func (t *SinkTask) usable(op string) error {
	if t.stopped {
		return fmt.Errorf("jdbc-sink: %s: %w", op, ErrStopped)
	}
	if t.db == nil {
		return fmt.Errorf("jdbc-sink: %s: %w", op, ErrNotStarted)
	}
	return nil
}

// Put writes records in one transaction. A record the database rejects, or that cannot be a row, goes to
// the errant-record reporter and the others are written; an unreachable database is a RetriableError
// (the engine redelivers the batch, and nothing of it was committed).
func (t *SinkTask) Put(ctx context.Context, records []*schema.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable("put"); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	records = t.unwritten(records)
	if len(records) == 0 {
		return nil
	}
	ops, err := t.plan(ctx, records)
	if err != nil {
		return err
	}
	if t.sc.exactlyOnce {
		if err := t.ensureOffsetRows(ctx, records); err != nil {
			return err
		}
	}
	// A deadlock or serialization failure rolls the transaction back whole: run it again (rows the
	// database rejected may then be reported twice; the dead-letter queue is at-least-once).
	for attempt := 1; ; attempt++ {
		err = t.writeTx(ctx, records, ops)
		if err == nil || attempt == 3 || !isConflict(err) {
			return err
		}
	}
}

// writeTx writes ops (planned from records) in one transaction, with the exactly-once offsets.
func (t *SinkTask) writeTx(ctx context.Context, records []*schema.Record, ops []*op) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return t.sc.target.wrap("begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	if t.sc.exactlyOnce {
		// The offsets in the table are authoritative: another task may have owned one of these queues
		// since this one started. Reading them FOR UPDATE also makes a concurrent writer of the same
		// queue (a task not yet told it lost it) wait, then see what this one wrote.
		if err := t.lockOffsets(ctx, tx, records); err != nil {
			return err
		}
		records = t.unwritten(records)
		ops = slices.DeleteFunc(slices.Clone(ops), func(o *op) bool {
			next, ok := t.offsets[queueOf(o.rec)]
			return ok && o.rec.QueueOffset < next
		})
	}
	for _, run := range groupRuns(ops) {
		if err := t.writeRun(ctx, tx, run); err != nil {
			return err
		}
	}
	var next map[plugins.Queue]int64
	if t.sc.exactlyOnce {
		next = nextOffsets(t.offsets, records)
		if err := t.storeOffsets(ctx, tx, next); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return t.sc.target.wrap("commit", err)
	}
	maps.Copy(t.offsets, next)
	return nil
}

// report hands r to the errant-record reporter; the error returned (tolerance none) fails the Put.
func (t *SinkTask) report(ctx context.Context, r *schema.Record, err error) error {
	if rerr := t.tctx.ErrantRecordReporter().Report(ctx, r, err); rerr != nil {
		return fmt.Errorf("jdbc-sink: %w", rerr)
	}
	return nil
}

// Flush has nothing to do: every Put committed its transaction.
func (t *SinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usable("flush")
}

// Stop closes the connection. Idempotent; safe without Start.
func (t *SinkTask) Stop(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.db == nil {
		return nil
	}
	err := t.db.Close()
	t.db = nil
	return err
}

// op is one record planned as a row operation.
type op struct {
	rec    *schema.Record
	table  tableID
	kind   string   // "insert", "upsert", "update", "delete"
	cols   []string // key columns first
	nkeys  int
	args   []any
	schema string // column signature, so runs share one statement shape
}

// plan turns records into row operations, creating or widening tables as configured. Records that
// cannot be rows (ErrBadRecord, ErrUnsupportedType) are reported and left out; any other failure, such as
// a CREATE or ALTER TABLE the database refuses or times out, is the database's or the table's rather than
// the record's and fails the Put, so the batch is redelivered (after a backoff when it is transient).
func (t *SinkTask) plan(ctx context.Context, records []*schema.Record) ([]*op, error) {
	ops := make([]*op, 0, len(records))
	for _, r := range records {
		o, err := t.rowOf(r)
		if err == nil && o != nil {
			err = t.ensureTable(ctx, o.table, r)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrUnsupportedType) {
				return nil, err
			}
			if rerr := t.report(ctx, r, err); rerr != nil {
				return nil, rerr
			}
			continue
		}
		if o != nil {
			ops = append(ops, o)
		}
	}
	return ops, nil
}

// tableFor renders table.name.format for topic. A dot of the format (never one of the topic) separates
// the schema from the table.
func (t *SinkTask) tableFor(topic string) tableID {
	f := t.sc.tableFormat
	if i := strings.IndexByte(f, '.'); i > 0 {
		return tableID{Schema: strings.ReplaceAll(f[:i], "${topic}", topic), Name: strings.ReplaceAll(f[i+1:], "${topic}", topic)}
	}
	return tableID{Name: strings.ReplaceAll(f, "${topic}", topic)}
}

// rowOf builds the operation for r (nil: nothing to do, a tombstone with deletes off).
func (t *SinkTask) rowOf(r *schema.Record) (*op, error) {
	sh := &t.shapes
	if sh.cols == nil || r.Topic != sh.topic { // cols == nil: nothing cached yet
		sh.topic, sh.table = r.Topic, t.tableFor(r.Topic)
	}
	o := &op{rec: r, table: sh.table, kind: t.sc.insertMode}
	if r.Value == nil {
		if !t.sc.deletes {
			return nil, nil
		}
		o.kind = "delete"
	}
	add := func(name string, s *schema.Schema, v any) error {
		b, err := bindValue(s, v)
		if err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
		sh.buf = append(sh.buf, name)
		o.args = append(o.args, b)
		return nil
	}
	sh.buf = sh.buf[:0]
	var value *schema.Struct
	if r.Value != nil {
		st, ok := r.Value.(*schema.Struct)
		if !ok || st == nil {
			return nil, fmt.Errorf("%w: value is %T, not a struct with a schema", ErrBadRecord, r.Value)
		}
		value = st
		o.args = make([]any, 0, len(st.Schema().Fields)+1)
	}
	switch t.sc.pkMode {
	case PKRecordKey:
		if r.Key == nil {
			return nil, fmt.Errorf("%w: pk.mode=record_key but the record has no key", ErrBadRecord)
		}
		if ks, ok := r.Key.(*schema.Struct); ok && ks != nil {
			for _, f := range ks.Schema().Fields {
				if len(t.sc.pkFields) > 0 && !contains(t.sc.pkFields, f.Name) {
					continue
				}
				v, _ := ks.Get(f.Name)
				if err := add(f.Name, f.Schema, v); err != nil {
					return nil, err
				}
			}
			if len(sh.buf) == 0 && len(t.sc.pkFields) == 0 {
				return nil, fmt.Errorf("%w: %s=%s but the key struct has no field", ErrBadRecord, KeyPKMode, PKRecordKey)
			}
			if len(sh.buf) == 0 {
				// No key column: an upsert, update or delete would have nothing to find its row by.
				return nil, fmt.Errorf("%w: %s=%s names none of the key's fields %v", ErrBadRecord, KeyPKFields,
					strings.Join(t.sc.pkFields, ","), ks.Schema().FieldNames())
			}
		} else {
			name := "__connect_key"
			if len(t.sc.pkFields) > 0 {
				name = t.sc.pkFields[0]
			}
			ks := r.KeySchema
			if ks == nil {
				ks = schemaOfPrimitive(r.Key)
			}
			if ks == nil {
				return nil, fmt.Errorf("%w: key of type %T", ErrUnsupportedType, r.Key)
			}
			if err := add(name, ks, r.Key); err != nil {
				return nil, err
			}
		}
	case PKRecordValue:
		if value == nil {
			return nil, fmt.Errorf("%w: pk.mode=record_value but the value is null", ErrBadRecord)
		}
		names := t.sc.pkFields
		if len(names) == 0 {
			names = value.Schema().FieldNames()
		}
		for _, n := range names {
			f, ok := value.Schema().Field(n)
			if !ok {
				return nil, fmt.Errorf("%w: pk.fields names %s, which the value has not", ErrBadRecord, n)
			}
			v, _ := value.Get(n)
			if err := add(n, f.Schema, v); err != nil {
				return nil, err
			}
		}
	}
	o.nkeys = len(sh.buf)
	if value != nil {
		for _, f := range value.Schema().Fields {
			if slices.Contains(sh.buf[:o.nkeys], f.Name) { // a key column, written first
				continue
			}
			v, _ := value.Get(f.Name)
			if err := add(f.Name, f.Schema, v); err != nil {
				return nil, err
			}
		}
	}
	if len(sh.buf) == 0 {
		return nil, fmt.Errorf("%w: no column to write", ErrBadRecord)
	}
	if o.kind == "update" && o.nkeys == len(sh.buf) {
		return nil, fmt.Errorf("%w: update with no non-key column", ErrBadRecord)
	}
	if !slices.Equal(sh.buf, sh.cols) {
		sh.cols = slices.Clone(sh.buf)
		sh.schema = strings.Join(sh.cols, "\x00")
	}
	o.cols, o.schema = sh.cols, sh.schema
	return o, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func schemaOfPrimitive(v any) *schema.Schema {
	switch v.(type) {
	case string:
		return schema.StringSchema
	case int64:
		return schema.Int64Schema
	case int32:
		return schema.Int32Schema
	case []byte:
		return schema.BytesSchema
	}
	return nil
}

// groupRuns cuts ops into runs of consecutive operations of one shape (table, kind, columns) that one
// statement can write.
func groupRuns(ops []*op) [][]*op {
	var runs [][]*op
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].table == ops[i].table && ops[j].kind == ops[i].kind && ops[j].schema == ops[i].schema {
			j++
		}
		runs = append(runs, ops[i:j])
		i = j
	}
	return runs
}

// writeRun writes a run in chunks of batch.size rows (fewer when the parameters would exceed the
// database's limit). A chunk the database rejects for its data is retried row by row, each row in a
// savepoint, and the rejected rows are reported. So is an upsert chunk with two keys the table holds as
// one (different in Go, equal in the column, as two instants of one second in a TIMESTAMP(0) key), which
// PostgreSQL refuses whole: written one by one, in order, the later record wins.
func (t *SinkTask) writeRun(ctx context.Context, tx *sql.Tx, run []*op) error {
	per := max(1, min(t.sc.batchSize, t.d.maxParams()/len(run[0].cols)))
	if run[0].kind == "update" || run[0].kind == "delete" {
		per = 1
	}
	for i := 0; i < len(run); {
		chunk := run[i:min(i+per, len(run))]
		if run[0].kind == "upsert" {
			chunk = distinctKeys(chunk) // one statement may not touch a row twice (PostgreSQL refuses)
		}
		i += len(chunk)
		err := t.execChunk(ctx, tx, chunk, true)
		if err == nil {
			continue
		}
		if !isRowError(err) && !isRowTouchedTwice(err) {
			return t.writeErr(chunk[0].table, err)
		}
		for _, o := range chunk {
			if err := t.execChunk(ctx, tx, []*op{o}, true); err != nil {
				if !isRowError(err) {
					return t.writeErr(o.table, err)
				}
				if rerr := t.report(ctx, o.rec, fmt.Errorf("jdbc-sink: %s: %w", o.table, scrub(err, t.sc.target.password))); rerr != nil {
					return rerr
				}
			}
		}
	}
	return nil
}

// distinctKeys returns the longest prefix of chunk whose keys are all different.
func distinctKeys(chunk []*op) []*op {
	seen := make(map[string]struct{}, len(chunk))
	var buf []byte
	for i, o := range chunk {
		buf = appendKey(buf[:0], o.args[:o.nkeys])
		if _, dup := seen[string(buf)]; dup {
			return chunk[:i]
		}
		seen[string(buf)] = struct{}{}
	}
	return chunk
}

// appendKey appends an encoding of the bound key values vals to b that is equal for two keys exactly
// when their values are: each value is tagged with its type and strings and bytes carry their length, so
// values whose text forms collide ("a b","c" and "a","b c"; "1" and 1) stay apart. Times are compared as
// instants and a float zero as zero, as the databases compare keys.
func appendKey(b []byte, vals []any) []byte {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, 0)
		case int64:
			b = binary.LittleEndian.AppendUint64(append(b, 1), uint64(x))
		case float64:
			if x == 0 {
				x = 0 // -0 is 0
			}
			b = binary.LittleEndian.AppendUint64(append(b, 2), math.Float64bits(x))
		case bool:
			b = append(b, 3, boolByte(x))
		case string:
			b = append(binary.AppendUvarint(append(b, 4), uint64(len(x))), x...)
		case []byte:
			b = append(binary.AppendUvarint(append(b, 5), uint64(len(x))), x...)
		case time.Time:
			b = binary.LittleEndian.AppendUint64(append(b, 6), uint64(x.Unix()))
			b = binary.LittleEndian.AppendUint32(b, uint32(x.Nanosecond()))
		default: // bindValue yields none of these; kept apart by type and text
			s := fmt.Sprintf("%T %v", v, v)
			b = append(binary.AppendUvarint(append(b, 7), uint64(len(s))), s...)
		}
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func (t *SinkTask) writeErr(table tableID, err error) error {
	return t.sc.target.wrap("write "+table.String(), err)
}

// execChunk runs one statement for chunk inside a savepoint, rolled back when the statement fails so the
// transaction stays usable.
func (t *SinkTask) execChunk(ctx context.Context, tx *sql.Tx, chunk []*op, savepoint bool) error {
	stmt, args := t.statement(chunk)
	if savepoint {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT rmqc_chunk"); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, stmt, args...)
	if savepoint {
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT rmqc_chunk"); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		if t.d.kind == postgresDialect {
			if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT rmqc_chunk"); rerr != nil {
				return rerr
			}
		}
	}
	return err
}

// statement renders the SQL of a chunk of same-shape operations and its arguments.
func (t *SinkTask) statement(chunk []*op) (string, []any) {
	o := chunk[0]
	d := t.d
	var b strings.Builder
	var args []any
	n := 0
	ph := func() string { n++; return d.placeholder(n) }
	quoted := make([]string, len(o.cols))
	for i, c := range o.cols {
		quoted[i] = d.quote(c)
	}
	switch o.kind {
	case "delete", "update":
		keys := make([]string, o.nkeys)
		if o.kind == "update" {
			b.WriteString("UPDATE " + d.table(o.table) + " SET ")
			for i := o.nkeys; i < len(o.cols); i++ {
				if i > o.nkeys {
					b.WriteString(", ")
				}
				b.WriteString(quoted[i] + " = " + ph())
				args = append(args, o.args[i])
			}
		} else {
			b.WriteString("DELETE FROM " + d.table(o.table))
		}
		for i := range keys {
			keys[i] = quoted[i] + " = " + ph()
			args = append(args, o.args[i])
		}
		b.WriteString(" WHERE " + strings.Join(keys, " AND "))
		return b.String(), args
	}
	b.WriteString("INSERT INTO " + d.table(o.table) + " (" + strings.Join(quoted, ", ") + ") VALUES ")
	for r, x := range chunk {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range x.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph())
		}
		b.WriteByte(')')
		args = append(args, x.args...)
	}
	if o.kind == "upsert" {
		b.WriteString(d.upsertClause(quoted, o.nkeys))
	}
	return b.String(), args
}

// upsertClause turns an INSERT into an insert-or-update on the key columns (quoted[:nkeys]).
func (d dialect) upsertClause(quoted []string, nkeys int) string {
	var sets []string
	for _, c := range quoted[nkeys:] {
		if d.kind == postgresDialect {
			sets = append(sets, c+" = EXCLUDED."+c)
		} else {
			sets = append(sets, c+" = VALUES("+c+")")
		}
	}
	if d.kind == postgresDialect {
		if len(sets) == 0 {
			return " ON CONFLICT (" + strings.Join(quoted[:nkeys], ", ") + ") DO NOTHING"
		}
		return " ON CONFLICT (" + strings.Join(quoted[:nkeys], ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
	}
	if len(sets) == 0 {
		return " ON DUPLICATE KEY UPDATE " + quoted[0] + " = " + quoted[0]
	}
	return " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}
