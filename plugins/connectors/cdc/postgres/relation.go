package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// relation is one table's shape as of the events being read: its columns (pgoutput's order: every
// column that is neither dropped nor generated, by attnum) and the schemas built from them.
type relation struct {
	schema, name string
	captured     bool
	cols         []column
	table        *cdc.Table
	// log is where decode warns, once per column (nulled), of an unchanged TOASTed value it could only make
	// null; nil: it does not.
	log    *slog.Logger
	nulled []bool
}

type colDesc struct {
	name   string
	oid    uint32
	typmod int32
}

// newRelation builds a captured relation whose key is keys, in key order.
func (t *task) newRelation(schemaName, name string, descs []colDesc, keys []string) (*relation, error) {
	r := &relation{schema: schemaName, name: name, captured: true, log: t.log, nulled: make([]bool, len(descs))}
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	prefix := t.cfg.prefix + "." + schemaName + "." + name
	rb := schema.StructBuilder().Name(prefix + ".Value")
	for _, d := range descs {
		c := newColumn(d.name, d.oid, d.typmod, isKey[d.name])
		r.cols = append(r.cols, c)
		rb.Field(d.name, c.schema)
	}
	row, err := rb.Build()
	if err != nil {
		return nil, fmt.Errorf("row schema of %s.%s: %w", schemaName, name, err)
	}
	topic := t.cfg.prefix + t.cfg.delim + schemaName + t.cfg.delim + name
	if r.table, err = cdc.NewTable(topic, prefix, row, keys, t.src); err != nil {
		return nil, err
	}
	return r, nil
}

// relation returns the relation relID as the stream last described it, built from its Relation message
// when no change has named it since; nil when the stream has not described it.
func (t *task) relation(ctx context.Context, relID uint32) (*relation, error) {
	if rel, ok := t.rels[relID]; ok {
		return rel, nil
	}
	m, ok := t.described[relID]
	if !ok {
		return nil, nil
	}
	rel, err := t.relationFromMessage(ctx, m)
	if err != nil {
		return nil, err
	}
	delete(t.described, relID)
	t.rels[relID] = rel
	return rel, nil
}

func (t *task) relationFromMessage(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	if !t.cfg.captured(m.Namespace, m.RelationName) {
		return &relation{schema: m.Namespace, name: m.RelationName}, nil
	}
	descs := make([]colDesc, len(m.Columns))
	for i, c := range m.Columns {
		descs[i] = colDesc{name: c.Name, oid: c.DataType, typmod: c.TypeModifier}
	}
	keys, err := t.messageKeys(ctx, m)
	if err != nil {
		return nil, err
	}
	return t.newRelation(m.Namespace, m.RelationName, descs, keys)
}

// keyFlag marks a Relation message's column as part of the replica identity.
const keyFlag = 1

// messageKeys returns the key of a relation as its Relation message describes it: the events that follow
// were written under its column names, which the catalog no longer has after a RENAME COLUMN (or at all,
// the table dropped since). With replica identity DEFAULT or USING INDEX the message flags the identity's
// columns, the primary key's or the index's, and the catalog only orders them (index order), when it names
// the same ones. With FULL every column is flagged and with NOTHING none: the key is then the catalog's
// primary key, or none when a column of it is not among the message's (renamed since).
func (t *task) messageKeys(ctx context.Context, m *pglogrepl.RelationMessage) ([]string, error) {
	cat, err := t.keyColumns(ctx, m.RelationID)
	if err != nil {
		return nil, err
	}
	var flagged []string
	inMessage := map[string]bool{}
	for _, c := range m.Columns {
		inMessage[c.Name] = true
		if c.Flags&keyFlag != 0 {
			flagged = append(flagged, c.Name)
		}
	}
	if m.ReplicaIdentity == 'd' || m.ReplicaIdentity == 'i' {
		if len(cat) == len(flagged) && allIn(cat, flagged) {
			return cat, nil
		}
		return flagged, nil
	}
	for _, k := range cat {
		if !inMessage[k] {
			t.log.Warn("key column not in the relation's columns; its events have no key", "table", m.Namespace+"."+m.RelationName,
				"column", k, "slot", t.cfg.slot)
			return nil, nil
		}
	}
	return cat, nil
}

func allIn(names, set []string) bool {
	for _, n := range names {
		if !slices.Contains(set, n) {
			return false
		}
	}
	return true
}

// relationFromCatalog reads a table's columns from the catalog (for the snapshot).
func (t *task) relationFromCatalog(ctx context.Context, tb tableName) (*relation, uint32, error) {
	var relid uint32
	if err := t.db.QueryRow(ctx, "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
		tb.schema, tb.name).Scan(&relid); err != nil {
		return nil, 0, fmt.Errorf("look up table %s.%s: %w", tb.schema, tb.name, err)
	}
	rows, err := t.db.Query(ctx, `SELECT attname, atttypid, atttypmod FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, relid)
	if err != nil {
		return nil, 0, fmt.Errorf("columns of %s.%s: %w", tb.schema, tb.name, err)
	}
	var descs []colDesc
	for rows.Next() {
		var d colDesc
		if err := rows.Scan(&d.name, &d.oid, &d.typmod); err != nil {
			rows.Close()
			return nil, 0, err
		}
		descs = append(descs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	keys, err := t.keyColumns(ctx, relid)
	if err != nil {
		return nil, 0, err
	}
	r, err := t.newRelation(tb.schema, tb.name, descs, keys)
	return r, relid, err
}

// keyColumns returns the key columns the catalog has now, in index order: those of the replica identity
// index for REPLICA IDENTITY USING INDEX (what the change events carry as the old key), else of the
// primary key; none for a table without either (or dropped). A failure that closed the query connection
// is a queryConnLost.
func (t *task) keyColumns(ctx context.Context, relid uint32) ([]string, error) {
	rows, err := t.db.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indexrelid = (SELECT x.indexrelid FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
		                      WHERE x.indrelid = $1 AND (x.indisprimary OR x.indisreplident)
		                      ORDER BY (c.relreplident = 'i' AND x.indisreplident) DESC, x.indisprimary DESC LIMIT 1)
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, relid)
	if err != nil {
		return nil, t.queryErr(fmt.Errorf("key of table %d: %w", relid, err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, t.queryErr(fmt.Errorf("key of table %d: %w", relid, err))
	}
	return out, nil
}
