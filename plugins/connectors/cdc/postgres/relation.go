package postgres

import (
	"context"
	"fmt"

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
}

type colDesc struct {
	name   string
	oid    uint32
	typmod int32
}

// newRelation builds a relation; its key is the primary key, or else the replica identity index (as the
// catalog says now), or none.
func (t *task) newRelation(ctx context.Context, relid uint32, schemaName, name string, descs []colDesc) (*relation, error) {
	r := &relation{schema: schemaName, name: name, captured: t.cfg.captured(schemaName, name)}
	if !r.captured {
		return r, nil
	}
	keys, err := t.keyColumns(ctx, relid)
	if err != nil {
		return nil, err
	}
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

func (t *task) relationFromMessage(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	descs := make([]colDesc, len(m.Columns))
	for i, c := range m.Columns {
		descs[i] = colDesc{name: c.Name, oid: c.DataType, typmod: c.TypeModifier}
	}
	return t.newRelation(ctx, m.RelationID, m.Namespace, m.RelationName, descs)
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
	r, err := t.newRelation(ctx, relid, tb.schema, tb.name, descs)
	return r, relid, err
}

// keyColumns returns the columns of the primary key, else of the replica identity index, in index order.
func (t *task) keyColumns(ctx context.Context, relid uint32) ([]string, error) {
	rows, err := t.db.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indexrelid = (SELECT indexrelid FROM pg_index WHERE indrelid = $1 AND (indisprimary OR indisreplident)
		                      ORDER BY indisprimary DESC LIMIT 1)
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, relid)
	if err != nil {
		return nil, fmt.Errorf("key of table %d: %w", relid, err)
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
	return out, rows.Err()
}
