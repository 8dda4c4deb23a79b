package cdc

import (
	"fmt"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Op is a Debezium change-event operation code.
type Op string

// The operation codes of the envelope's op field.
const (
	OpCreate Op = "c"
	OpUpdate Op = "u"
	OpDelete Op = "d"
	OpRead   Op = "r" // a row read by the initial snapshot
)

// Envelope field names.
const (
	FieldBefore = "before"
	FieldAfter  = "after"
	FieldSource = "source"
	FieldOp     = "op"
	FieldTsMs   = "ts_ms"
)

// SourceField is one connector-specific field of the envelope's source block (a position such as lsn, or
// file and pos), after the fields every connector has.
type SourceField struct {
	Name   string
	Schema *schema.Schema
}

// Source describes the source block of one connector: its name (postgresql, mysql), its schema name
// (io.debezium.connector.postgresql.Source) and its position fields.
type Source struct {
	schema *schema.Schema
	extra  []SourceField
}

// NewSource returns the source block of connector, with common fields version, connector, name, ts_ms,
// snapshot, db, schema (optional: PostgreSQL's), table, followed by extra.
func NewSource(connector, schemaName string, extra ...SourceField) *Source {
	b := schema.StructBuilder().Name(schemaName).
		Field("version", schema.StringSchema).
		Field("connector", schema.StringSchema).
		Field("name", schema.StringSchema).
		Field("ts_ms", schema.Int64Schema).
		Field("snapshot", schema.OptionalStringSchema).
		Field("db", schema.StringSchema).
		Field("schema", schema.OptionalStringSchema).
		Field("table", schema.OptionalStringSchema)
	for _, f := range extra {
		b.Field(f.Name, f.Schema)
	}
	return &Source{schema: b.MustBuild(), extra: extra}
}

// Schema returns the source block's schema.
func (s *Source) Schema() *schema.Schema { return s.schema }

// Version is the value of source.version: this runtime's envelope version.
const Version = "rmqconnect-1"

// SourceInfo is the content of one event's source block.
type SourceInfo struct {
	// Connector is "postgresql" or "mysql"; Name is the logical server name (topic.prefix).
	Connector, Name string
	// Ts is when the change was committed in the database.
	Ts time.Time
	// Snapshot is "true" for snapshot rows, "last" for the last one, "" (false) while streaming.
	Snapshot string
	DB       string
	Schema   string
	Table    string
	// Position holds the extra fields' values by name (lsn, txId; file, pos, gtid, ...).
	Position map[string]any
}

// Struct builds the source block.
func (s *Source) Struct(in SourceInfo) (*schema.Struct, error) {
	st := schema.NewStruct(s.schema)
	snap := in.Snapshot
	if snap == "" {
		snap = "false"
	}
	vals := []struct {
		k string
		v any
	}{{"version", Version}, {"connector", in.Connector}, {"name", in.Name}, {"ts_ms", in.Ts.UnixMilli()},
		{"snapshot", snap}, {"db", in.DB}, {"table", in.Table}}
	if in.Schema != "" {
		vals = append(vals, struct {
			k string
			v any
		}{"schema", in.Schema})
	}
	for _, kv := range vals {
		if _, err := st.Put(kv.k, kv.v); err != nil {
			return nil, fmt.Errorf("source.%s: %w", kv.k, err)
		}
	}
	for _, f := range s.extra {
		v, ok := in.Position[f.Name]
		if !ok {
			continue
		}
		if _, err := st.Put(f.Name, v); err != nil {
			return nil, fmt.Errorf("source.%s: %w", f.Name, err)
		}
	}
	return st, nil
}

// Table is one captured table's schemas: the key (its primary key columns; nil when it has none), the row
// (every column, all optional as Debezium makes them except key columns) and the envelope.
type Table struct {
	// Topic is where the table's events go.
	Topic    string
	Key      *schema.Schema
	Row      *schema.Schema
	Envelope *schema.Schema
	// KeyColumns are the names of the key's fields, in the key's order.
	KeyColumns []string
}

// NewTable builds the key and envelope schemas of a table from its row schema, named
// <prefix>.Key, <prefix>.Envelope (prefix = <topic.prefix>.<schema>.<table>, as Debezium names them).
// keyColumns names the primary key's columns, in order; none means records carry no key.
func NewTable(topic, prefix string, row *schema.Schema, keyColumns []string, src *Source) (*Table, error) {
	t := &Table{Topic: topic, Row: row, KeyColumns: keyColumns}
	if len(keyColumns) > 0 {
		kb := schema.StructBuilder().Name(prefix + ".Key")
		for _, c := range keyColumns {
			f, ok := row.Field(c)
			if !ok {
				return nil, fmt.Errorf("key column %q is not a column of %s", c, prefix)
			}
			kb.Field(c, f.Schema)
		}
		k, err := kb.Build()
		if err != nil {
			return nil, fmt.Errorf("key schema of %s: %w", prefix, err)
		}
		t.Key = k
	}
	opt, err := schema.FromSchema(row).Optional().Build()
	if err != nil {
		return nil, fmt.Errorf("row schema of %s: %w", prefix, err)
	}
	env, err := schema.StructBuilder().Name(prefix+".Envelope").Version(1).
		Field(FieldBefore, opt).
		Field(FieldAfter, opt).
		Field(FieldSource, src.Schema()).
		Field(FieldOp, schema.StringSchema).
		Field(FieldTsMs, schema.OptionalInt64Schema).
		Build()
	if err != nil {
		return nil, fmt.Errorf("envelope schema of %s: %w", prefix, err)
	}
	t.Envelope = env
	return t, nil
}

// Event is one captured row change.
type Event struct {
	Op Op
	// Before and After are the row images (values in the row schema's field order); nil when absent.
	Before, After []any
	Source        *schema.Struct
	// Partition and Offset are the record's source partition and offset.
	Partition, Offset map[string]any
	// Now is the envelope's ts_ms: when the connector processed the event.
	Now time.Time
}

// Records returns the event's record and, for a delete with tombstones, the tombstone that follows it (the
// same key, a nil value). Both carry the event's partition and offset.
func (t *Table) Records(e Event, tombstone bool) ([]*schema.Record, error) {
	env := schema.NewStruct(t.Envelope)
	var keyImage []any
	for _, img := range []struct {
		name string
		vals []any
	}{{FieldBefore, e.Before}, {FieldAfter, e.After}} {
		if img.vals == nil {
			continue
		}
		row, err := schema.StructFromValues(env.Schema().Fields[fieldIndex(img.name)].Schema, img.vals)
		if err != nil {
			return nil, fmt.Errorf("%s image of %s: %w", img.name, t.Topic, err)
		}
		if _, err := env.Put(img.name, row); err != nil {
			return nil, fmt.Errorf("%s image of %s: %w", img.name, t.Topic, err)
		}
		keyImage = img.vals // after wins: a key change is keyed by its new value
	}
	env.MustPut(FieldSource, e.Source)
	env.MustPut(FieldOp, string(e.Op))
	env.MustPut(FieldTsMs, e.Now.UnixMilli())
	var key any
	if t.Key != nil && keyImage != nil {
		k := schema.NewStruct(t.Key)
		for _, c := range t.KeyColumns {
			f, _ := t.Row.Field(c)
			if _, err := k.Put(c, keyImage[f.Index]); err != nil {
				return nil, fmt.Errorf("key of %s: %w", t.Topic, err)
			}
		}
		key = k
	}
	ts := time.UnixMilli(0)
	if src, err := e.Source.Get("ts_ms"); err == nil {
		if ms, ok := src.(int64); ok {
			ts = time.UnixMilli(ms)
		}
	}
	rec := schema.NewRecord(t.Topic, t.Key, key, t.Envelope, env)
	rec.SourcePartition, rec.SourceOffset, rec.Timestamp = e.Partition, e.Offset, ts
	out := []*schema.Record{rec}
	if e.Op == OpDelete && tombstone {
		tr := schema.NewRecord(t.Topic, t.Key, key, nil, nil)
		tr.SourcePartition, tr.SourceOffset, tr.Timestamp = e.Partition, e.Offset, ts
		out = append(out, tr)
	}
	return out, nil
}

func fieldIndex(name string) int {
	if name == FieldBefore {
		return 0
	}
	return 1
}
