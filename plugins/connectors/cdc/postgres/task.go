package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Source-partition and source-offset keys.
const (
	PartitionServer = "server"
	OffsetCommitLSN = "lsn_commit" // commit LSN of the event's transaction (text form, 0/16B3748)
	OffsetSeq       = "seq"        // the event's number in its transaction, from 1
	OffsetSnapshot  = "snapshot"   // true on the records of an unfinished initial snapshot
)

// pos orders events: a transaction's commit LSN, then the event's number in it.
type pos struct {
	commit pglogrepl.LSN
	seq    int64
}

func (p pos) after(o pos) bool { return p.commit > o.commit || (p.commit == o.commit && p.seq > o.seq) }

// txAck counts the records of one transaction (or of the snapshot) not yet acknowledged by RocketMQ; end
// is the LSN to confirm once all are and the transaction's commit was seen (closed). records says whether
// any record was emitted for it: only then does confirming end wait for Commit.
type txAck struct {
	commit  pglogrepl.LSN
	end     pglogrepl.LSN
	pending int
	closed  bool
	records bool
	// ackedBefore is the number of Commit calls made before its last record was acknowledged: a
	// Commit after that (commits > ackedBefore) followed the storing of its records' positions (or,
	// as for what Commit itself confirms, of all but those acknowledged while the engine stored
	// them, which are in RocketMQ already).
	ackedBefore uint64
}

// task is the postgres-cdc source task. Start, Poll and Commit run on the engine's task goroutine;
// CommitRecord runs on the sender's, and shares only the fields under mu. Stop may come from another
// goroutine while a Poll runs: it cancels life, which ends the Poll promptly, and takes run, which Poll and
// Commit hold while they use the connections, before it closes them.
type task struct {
	cfg       *config
	log       *slog.Logger
	src       *cdc.Source
	partition map[string]any

	// life bounds the connections; Stop cancels it.
	life   context.Context
	cancel context.CancelFunc
	// run serialises Poll and Commit with Stop; stopped is set under it once the connections are closed.
	run     sync.Mutex
	stopped bool

	db   *pgx.Conn
	repl *pgconn.PgConn

	// described holds, by relation id, the Relation messages no change has named since they were read; rels
	// the relations built from them when one did (relation). A message no change names is never built:
	// pgoutput describes a partition published through its partitioned table (publish_via_partition_root)
	// right after the partitioned table, though the partition's changes name the partitioned table; and it
	// describes each table a Truncate names, which the task skips.
	rels      map[uint32]*relation
	described map[uint32]*pglogrepl.RelationMessage
	slab      cdc.Slab // the streamed records and their values
	snap      *snapshot
	startLSN  pglogrepl.LSN
	// last is the newest event emitted: a replay skips it and everything before.
	last pos
	// tx is the transaction being read.
	tx struct {
		open   bool
		commit pglogrepl.LSN
		xid    uint32
		time   time.Time
		seq    int64
		ack    *txAck
		// unflushed counts the records emitted for ack not yet added to its pending count (flushPending).
		unflushed int
		// src builds the source blocks of the transaction's events on srcRel; offset is the offset of its
		// events with seq 0. Both are made at the first event that needs them.
		src    *cdc.Varying
		srcRel *relation
		offset map[string]any
	}
	streaming   bool
	nextConnect time.Time
	outage      cdc.Outage
	// confirmed is the LSN last confirmed to the server; quietAt is when a poll last confirmed one itself
	// (confirmQuiet).
	confirmed pglogrepl.LSN
	quietAt   time.Time

	mu       sync.Mutex
	inflight []*txAck
	// acked is the LSN before which every record emitted is acknowledged; recordsEnd is the end of the
	// newest acknowledged transaction that had records.
	acked      pglogrepl.LSN
	recordsEnd pglogrepl.LSN
	// commits counts the engine's Commit calls (see txAck.ackedBefore).
	commits uint64
}

func newTask() *task {
	return &task{rels: map[uint32]*relation{}, described: map[uint32]*pglogrepl.RelationMessage{}}
}

// newSource describes postgres-cdc's source block: Debezium's PostgreSQL fields after the common ones.
func newSource() *cdc.Source {
	return cdc.NewSource("postgresql", "io.debezium.connector.postgresql.Source",
		cdc.SourceField{Name: "txId", Schema: schema.OptionalInt64Schema},
		cdc.SourceField{Name: "lsn", Schema: schema.OptionalInt64Schema})
}

var (
	_ plugins.SourceTask      = (*task)(nil)
	_ plugins.RecordCommitter = (*task)(nil)
)

// Start connects, makes sure the publication and slot exist (warning of tables the lists select but the
// publication publishes under others), and decides between an initial snapshot and streaming from the
// stored position.
func (t *task) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	cfg, err := parseConfig(tctx.Config())
	if err != nil {
		return err
	}
	t.cfg, t.log = cfg, tctx.Logger()
	t.src = newSource()
	t.partition = map[string]any{PartitionServer: cfg.prefix}
	t.life, t.cancel = context.WithCancel(context.Background())

	off, err := tctx.Positions().Position(ctx, t.partition)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("read stored position: %w", err))
	}
	if err := t.connect(ctx); err != nil {
		return plugins.Retriable(err)
	}
	stored, resume, err := readOffset(off)
	if err != nil {
		return err
	}
	slot, err := t.slotInfo(ctx)
	if err != nil {
		return plugins.Retriable(err)
	}
	if stored {
		if !slot.exists {
			return t.slotMissing(resume.commit)
		}
		if slot.lost {
			return t.slotInvalidated(resume.commit)
		}
		if err := t.checkPublication(ctx); err != nil {
			return err
		}
		t.checkViaRoot(ctx)
		if err := t.syncPublication(ctx); err != nil {
			return err
		}
		t.warnPublishedElsewhere(ctx)
		t.last, t.startLSN = resume, resume.commit
		return nil
	}
	if err := t.ensurePublication(ctx); err != nil {
		return err
	}
	t.warnPublishedElsewhere(ctx)
	if cfg.snapshot != SnapshotInitial {
		// Without a stored position and without a snapshot, the slot's position is where capture starts:
		// an invalidated slot is not silently replaced by one that starts now.
		if slot.lost {
			return t.slotInvalidated(0)
		}
		if !slot.exists {
			if _, err := pglogrepl.CreateReplicationSlot(ctx, t.repl, cfg.slot, "pgoutput",
				pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "NOEXPORT_SNAPSHOT"}); err != nil {
				return fmt.Errorf("create replication slot %s (%s): %w", cfg.slot, KeySlot, err)
			}
		}
		return nil
	}
	// No position refers to an existing slot, so nothing read from it was delivered: a fresh slot with an
	// exported snapshot loses nothing the snapshot does not read (also when the old slot was invalidated).
	if slot.exists {
		if err := pglogrepl.DropReplicationSlot(ctx, t.repl, cfg.slot, pglogrepl.DropReplicationSlotOptions{}); err != nil {
			return fmt.Errorf("drop replication slot %s to take a new snapshot (%s): %w", cfg.slot, KeySlot, err)
		}
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, t.repl, cfg.slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return fmt.Errorf("create replication slot %s (%s): %w", cfg.slot, KeySlot, err)
	}
	cp, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("slot %s consistent point %q: %w", cfg.slot, res.ConsistentPoint, err)
	}
	t.startLSN = cp
	return t.beginSnapshot(ctx, res.SnapshotName, cp)
}

// readOffset reads a stored offset; stored is false when there is none, or when it is one of an
// unfinished snapshot (which is then taken again).
func readOffset(off map[string]any) (stored bool, p pos, err error) {
	if off == nil || off[OffsetSnapshot] == true {
		return false, pos{}, nil
	}
	s, _ := off[OffsetCommitLSN].(string)
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return false, pos{}, fmt.Errorf("%w: %s=%v: %v", ErrBadStoredPosition, OffsetCommitLSN, off[OffsetCommitLSN], err)
	}
	seq, _, err := position.Int64(off, OffsetSeq)
	if err != nil {
		return false, pos{}, fmt.Errorf("%w: %v", ErrBadStoredPosition, err)
	}
	return true, pos{commit: lsn, seq: seq}, nil
}

// connect opens the query connection and the replication connection.
func (t *task) connect(ctx context.Context) error {
	t.closeConns()
	db, err := pgx.Connect(ctx, t.cfg.connString(false))
	if err != nil {
		return fmt.Errorf("connect to %s:%d/%s: %w", t.cfg.host, t.cfg.port, t.cfg.dbname, err)
	}
	repl, err := pgconn.Connect(ctx, t.cfg.connString(true))
	if err != nil {
		_ = db.Close(ctx)
		return fmt.Errorf("open a replication connection to %s:%d/%s: %w", t.cfg.host, t.cfg.port, t.cfg.dbname, err)
	}
	t.db, t.repl = db, repl
	return nil
}

func (t *task) closeConns() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if t.db != nil {
		_ = t.db.Close(ctx)
		t.db = nil
	}
	if t.repl != nil {
		_ = t.repl.Close(ctx)
		t.repl = nil
	}
}

// slotInfo is what the task needs to know of its slot: whether it exists, and whether the server
// invalidated it (lost: it removed WAL the slot still needed, max_slot_wal_keep_size), after which the slot
// cannot stream again.
type slotInfo struct {
	exists, lost bool
}

func (t *task) slotInfo(ctx context.Context) (slotInfo, error) {
	var db, plugin, walStatus string
	// wal_status came with PostgreSQL 13: read through to_jsonb, it is '' on 12 instead of an error.
	err := t.db.QueryRow(ctx, `SELECT coalesce(database, ''), coalesce(plugin, ''), coalesce(to_jsonb(s) ->> 'wal_status', '')
		FROM pg_replication_slots s WHERE slot_name = $1`, t.cfg.slot).Scan(&db, &plugin, &walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return slotInfo{}, nil
	}
	if err != nil {
		return slotInfo{}, fmt.Errorf("look up replication slot %s: %w", t.cfg.slot, err)
	}
	if db != t.cfg.dbname || plugin != "pgoutput" {
		return slotInfo{}, &cfgerr.Error{Key: KeySlot, Value: t.cfg.slot,
			Reason: fmt.Sprintf("the slot exists for database %q with plugin %q, not %q with pgoutput", db, plugin, t.cfg.dbname),
			Err:    plugins.ErrInvalidValue}
	}
	return slotInfo{exists: true, lost: walStatus == "lost"}, nil
}

func (t *task) slotMissing(at pglogrepl.LSN) error {
	return fmt.Errorf("%w: replication slot %q (%s) no longer exists on %s:%d/%s, but the connector's stored position is "+
		"LSN %s: the changes made since then are gone from the server and cannot be captured. To start over with a new "+
		"snapshot, delete the connector's stored offsets (or set %s to a new name) and restart it",
		ErrSlotMissing, t.cfg.slot, KeySlot, t.cfg.host, t.cfg.port, t.cfg.dbname, at, KeySlot)
}

// slotInvalidated is the failure of a task whose slot the server invalidated; at is the stored position,
// 0 when there is none.
func (t *task) slotInvalidated(at pglogrepl.LSN) error {
	since := "the slot's position"
	if at != 0 {
		since = "LSN " + at.String() + ", the connector's stored position"
	}
	return fmt.Errorf("%w: replication slot %q (%s) on %s:%d/%s was invalidated by the server (wal_status lost): it removed "+
		"WAL the slot still needed (max_slot_wal_keep_size), so the changes made since %s are gone and cannot be captured. "+
		"To start over with a new snapshot, drop the slot (SELECT pg_drop_replication_slot('%s')), delete the connector's "+
		"stored offsets (or set %s to a new name) and restart it; raise max_slot_wal_keep_size (-1: no limit) so that it "+
		"does not happen again", ErrSlotUnusable, t.cfg.slot, KeySlot, t.cfg.host, t.cfg.port, t.cfg.dbname, since, t.cfg.slot, KeySlot)
}

func (t *task) publicationExists(ctx context.Context) (bool, error) {
	var one int
	err := t.db.QueryRow(ctx, "SELECT 1 FROM pg_publication WHERE pubname = $1", t.cfg.publication).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up publication %s: %w", t.cfg.publication, err)
	}
	return true, nil
}

// checkPublication fails when the publication a stored position reads through was dropped.
func (t *task) checkPublication(ctx context.Context) error {
	ok, err := t.publicationExists(ctx)
	if err != nil {
		return plugins.Retriable(err)
	}
	if !ok {
		return fmt.Errorf("%w: publication %q (%s) no longer exists on %s:%d/%s; changes cannot be decoded without it. "+
			"Re-create it (CREATE PUBLICATION %s FOR ALL TABLES, or FOR TABLE the captured tables) and restart the task; "+
			"changes made while it was missing are not captured",
			ErrPublicationMissing, t.cfg.publication, KeyPublication, t.cfg.host, t.cfg.port, t.cfg.dbname, t.cfg.publication)
	}
	return nil
}

// ensurePublication creates the publication when absent, as publication.autocreate.mode says.
func (t *task) ensurePublication(ctx context.Context) error {
	ok, err := t.publicationExists(ctx)
	if err != nil {
		return plugins.Retriable(err)
	}
	if ok {
		t.checkViaRoot(ctx)
		return t.syncPublication(ctx)
	}
	var sql string
	switch t.cfg.pubMode {
	case PubDisabled:
		return &cfgerr.Error{Key: KeyPublication, Value: t.cfg.publication,
			Reason: "publication does not exist and " + KeyPublicationMode + " is disabled", Err: plugins.ErrInvalidValue}
	case PubAllTables:
		sql = "CREATE PUBLICATION " + pgx.Identifier{t.cfg.publication}.Sanitize() + " FOR ALL TABLES"
	case PubFiltered:
		tables, err := t.listTables(ctx, false)
		if err != nil {
			return plugins.Retriable(err)
		}
		if len(tables) == 0 {
			return &cfgerr.Error{Key: KeyTableInclude, Reason: "no table matches, so a filtered publication cannot be created",
				Err: plugins.ErrInvalidValue}
		}
		sql = "CREATE PUBLICATION " + pgx.Identifier{t.cfg.publication}.Sanitize() + " FOR TABLE "
		for i, tb := range tables {
			if i > 0 {
				sql += ", "
			}
			sql += tb.publicationMember()
		}
	}
	if t.cfg.viaRoot {
		sql += " WITH (publish_via_partition_root = true)"
	}
	if _, err := t.db.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create publication %s (%s): %w", t.cfg.publication, KeyPublication, err)
	}
	return nil
}

// checkViaRoot warns when the config sets publish.via.partition.root and the existing publication
// publishes otherwise. It is not altered: that would move the later changes of partitioned tables to
// other topics than their snapshot's (docs: Partitioned tables).
func (t *task) checkViaRoot(ctx context.Context) {
	if !t.cfg.viaRootSet {
		return
	}
	var via bool
	if err := t.db.QueryRow(ctx, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", t.cfg.publication).Scan(&via); err != nil {
		t.log.Warn("could not read the publication's publish_via_partition_root", "publication", t.cfg.publication, "err", err)
		return
	}
	if via != t.cfg.viaRoot {
		t.log.Warn("the publication exists with another publish_via_partition_root than "+KeyPublishViaRoot+" asks for, and is left as it is: "+
			"alter it by hand (ALTER PUBLICATION ... SET (publish_via_partition_root = ...)) and take a new snapshot, as the changes of "+
			"partitioned tables then come under other tables",
			"publication", t.cfg.publication, "publish_via_partition_root", via, KeyPublishViaRoot, t.cfg.viaRoot)
	}
}

// syncPublication adds to the publication, in filtered mode, the captured tables it does not publish
// (created, or matched by the lists, since it was created): their changes from now on are captured; their
// rows are not snapshotted, nor are the changes made before (a stored position resumes behind the change,
// which the server decodes with the publication as it was then). A partitioned table and the partitions the
// lists select are all added: the publication then publishes through the first the partitions attached
// later, and a partition detached stays published as the table of its own it becomes, while the server
// still publishes each change once, under one table (partitions.go). It never removes a table: another
// reader of the same publication (a second connector left with the default publication.name, a
// subscription) would silently lose that table's changes, while a table no longer captured costs only its
// decoding (the task drops its changes, as under all_tables). Adding takes a SHARE UPDATE EXCLUSIVE lock on
// each table, which does not block reads or writes. A user that may not alter the publication (it must own
// it and the tables) gets a warning naming the tables, and the task starts as before without them.
func (t *task) syncPublication(ctx context.Context) error {
	if t.cfg.pubMode != PubFiltered {
		return nil
	}
	var all bool
	if err := t.db.QueryRow(ctx, "SELECT puballtables FROM pg_publication WHERE pubname = $1", t.cfg.publication).Scan(&all); err != nil {
		return plugins.Retriable(fmt.Errorf("look up publication %s: %w", t.cfg.publication, err))
	}
	if all {
		return nil
	}
	want, err := t.listTables(ctx, false)
	if err != nil {
		return plugins.Retriable(err)
	}
	// Members by name (pg_publication_rel) and by schema (TABLES IN SCHEMA, PostgreSQL 15). Not what
	// pg_publication_tables lists for a partition: it lists the partitions of a partitioned table that is a
	// member, and such a partition, once detached, is published no more, so a selected one is added by name.
	var bySchema bool
	if err := t.db.QueryRow(ctx, "SELECT to_regclass('pg_catalog.pg_publication_namespace') IS NOT NULL").Scan(&bySchema); err != nil {
		return plugins.Retriable(fmt.Errorf("tables of publication %s: %w", t.cfg.publication, err))
	}
	q := `SELECT n.nspname, c.relname FROM pg_publication_rel r
		JOIN pg_publication p ON p.oid = r.prpubid JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE p.pubname = $1
		UNION SELECT pt.schemaname, pt.tablename FROM ` + publishedTables + ` pt WHERE NOT pt.relispartition`
	if bySchema {
		q += `
		UNION SELECT n.nspname, c.relname FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid
		JOIN pg_namespace n ON n.oid = pn.pnnspid JOIN pg_class c ON c.relnamespace = n.oid
		WHERE p.pubname = $1 AND c.relispartition`
	}
	have, err := t.tableSet(ctx, q)
	if err != nil {
		return err
	}
	// Partitions the publication publishes through a partitioned table that is a member.
	through, err := t.tableSet(ctx, `SELECT pt.schemaname, pt.tablename FROM `+publishedTables+` pt WHERE pt.relispartition`)
	if err != nil {
		return err
	}
	var missing, partitions []tableName
	for _, tb := range want {
		switch {
		case have[tb.tableName]:
		case through[tb.tableName]:
			partitions = append(partitions, tb.tableName)
		default:
			missing = append(missing, tb.tableName)
		}
	}
	if err := t.addToPublication(ctx, missing,
		"captured tables not in the publication, which the connector's user may not alter: their changes are not captured"); err != nil {
		return err
	}
	// Apart: published already while attached, they are no reason to warn of the others.
	return t.addToPublication(ctx, partitions,
		"captured partitions published through their partitioned table, which the connector's user may not add by name: "+
			"their changes are captured while they are attached, not once detached")
}

// tableSet runs q, a query of schema and table names with the publication as $1.
func (t *task) tableSet(ctx context.Context, q string) (map[tableName]bool, error) {
	rows, err := t.db.Query(ctx, q, t.cfg.publication)
	if err != nil {
		return nil, plugins.Retriable(fmt.Errorf("tables of publication %s: %w", t.cfg.publication, err))
	}
	defer rows.Close()
	set := map[tableName]bool{}
	for rows.Next() {
		var tb tableName
		if err := rows.Scan(&tb.schema, &tb.name); err != nil {
			return nil, err
		}
		set[tb] = true
	}
	if err := rows.Err(); err != nil {
		return nil, plugins.Retriable(fmt.Errorf("tables of publication %s: %w", t.cfg.publication, err))
	}
	return set, nil
}

// addToPublication adds tables to the publication by name; a user that may not alter it gets the
// warning refused, and the task goes on without them.
func (t *task) addToPublication(ctx context.Context, tables []tableName, refused string) error {
	if len(tables) == 0 {
		return nil
	}
	idents, names := make([]string, len(tables)), make([]string, len(tables))
	for i, tb := range tables {
		idents[i], names[i] = tb.publicationMember(), tb.schema+"."+tb.name
	}
	list := strings.Join(names, ",")
	sql := "ALTER PUBLICATION " + pgx.Identifier{t.cfg.publication}.Sanitize() + " ADD TABLE " + strings.Join(idents, ", ")
	if _, err := t.db.Exec(ctx, sql); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			t.log.Warn(refused, "publication", t.cfg.publication, "tables", list, "user", t.cfg.user, "err", err)
			return nil
		}
		return plugins.Retriable(fmt.Errorf("add tables %s to publication %s (%s): %w", list, t.cfg.publication, KeyPublication, err))
	}
	t.log.Info("tables added to the publication", "publication", t.cfg.publication, "tables", list)
	return nil
}

type tableName struct{ schema, name string }

// publicationMember names the table in CREATE and ALTER PUBLICATION. ONLY: without it the table's INHERITS
// children, selected or not, would be published too, and their updates and deletes then fail when they lack
// a replica identity; a partitioned table's partitions are published through it either way.
func (tb tableName) publicationMember() string {
	return "ONLY " + pgx.Identifier{tb.schema, tb.name}.Sanitize()
}

// listedTable is a table listTables found; partitioned is a partitioned table's, whose rows are its
// partitions'.
type listedTable struct {
	tableName
	partitioned bool
}

// listTables lists the captured tables: those the publication publishes changes under (inPublication), or
// those of the database a publication can hold (not unlogged or temporary: the server refuses those).
func (t *task) listTables(ctx context.Context, inPublication bool) ([]listedTable, error) {
	q := `SELECT n.nspname, c.relname, c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY 1, 2`
	var args []any
	if inPublication {
		q = `SELECT pt.schemaname, pt.tablename, pt.relkind = 'p' FROM ` + publishedTables + ` pt ORDER BY 1, 2`
		args = append(args, t.cfg.publication)
	}
	rows, err := t.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []listedTable
	for rows.Next() {
		var tb listedTable
		if err := rows.Scan(&tb.schema, &tb.name, &tb.partitioned); err != nil {
			return nil, err
		}
		if t.cfg.captured(tb.schema, tb.name) {
			out = append(out, tb)
		}
	}
	return out, rows.Err()
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
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 || t.snap != nil {
			return recs, nil
		}
	}
	return t.pollStream(ctx)
}

// CommitRecord counts r as acknowledged; a transaction whose records all are (and whose commit was read)
// makes its end LSN confirmable.
func (t *task) CommitRecord(_ context.Context, _ *schema.Record, _ *plugins.RecordMetadata) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.inflight) > 0 {
		t.inflight[0].pending--
		t.inflight[0].ackedBefore = t.commits
	}
	t.drainLocked()
	return nil
}

// drainLocked drops the acknowledged transactions from the head of inflight, moving acked to their end: it
// stops at the first with a record not yet acknowledged, so acked never passes one.
func (t *task) drainLocked() {
	for len(t.inflight) > 0 && t.inflight[0].closed && t.inflight[0].pending <= 0 {
		e := t.inflight[0]
		if e.end > t.acked {
			t.acked = e.end
		}
		// A transaction whose records went through a Commit before its end was read (the engine
		// stored them and calls Commit again only after more records) does not hold the end back.
		if e.records && e.end > t.recordsEnd && e.ackedBefore >= t.commits {
			t.recordsEnd = e.end
		}
		t.inflight[0] = nil
		t.inflight = t.inflight[1:]
	}
}

// confirmable is the LSN a poll may confirm to the server without Commit (confirmQuiet, a keepalive's
// reply): acked, once Commit has confirmed every transaction with records before it, so that what a poll
// confirms itself carries no record (keepalives, changes of tables not captured); else the LSN already
// confirmed.
func (t *task) confirmable() pglogrepl.LSN {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.recordsEnd > t.confirmed || t.acked <= t.confirmed {
		return t.confirmed
	}
	return t.acked
}

// Commit confirms to the server the LSN up to which every record is acknowledged by RocketMQ; the engine
// calls it after storing the positions.
func (t *task) Commit(ctx context.Context) error {
	t.run.Lock()
	defer t.run.Unlock()
	t.mu.Lock()
	acked := t.acked
	t.commits++
	t.mu.Unlock()
	if acked <= t.confirmed || t.repl == nil || t.snap != nil {
		return nil
	}
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, t.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: acked}); err != nil {
		return fmt.Errorf("confirm LSN %s to the server: %w", acked, err)
	}
	t.confirmed = acked
	return nil
}

// Stop ends a running Poll and closes the connections; safe before Start, after a failed Start, while
// another goroutine polls, and twice.
func (t *task) Stop(context.Context) error {
	if t.cancel != nil {
		t.cancel()
	}
	t.run.Lock()
	defer t.run.Unlock()
	if t.snap != nil && t.snap.rr != nil {
		_, _ = t.snap.rr.Close()
	}
	t.snap = nil
	t.closeConns()
	t.stopped = true
	return nil
}
