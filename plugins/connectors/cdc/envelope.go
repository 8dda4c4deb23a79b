package cdc

import (
	"bytes"
	"fmt"
	"reflect"
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
	// Position holds the extra fields' values, in the order NewSource was given them (nil for an
	// optional field without a value).
	Position []any
}

// Struct builds the source block. The values are the connector's own, typed as the fields declare; they are
// not validated again (it is the per-event path).
func (s *Source) Struct(in SourceInfo) (*schema.Struct, error) {
	snap := in.Snapshot
	if snap == "" {
		snap = "false"
	}
	if len(in.Position) != len(s.extra) {
		return nil, fmt.Errorf("source block: %d position values for %d fields", len(in.Position), len(s.extra))
	}
	vals := make([]any, 8, 8+len(s.extra))
	vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[7] = Version, in.Connector, in.Name, in.Ts.UnixMilli(), snap, in.DB, in.Table
	if in.Schema != "" {
		vals[6] = in.Schema
	}
	vals = append(vals, in.Position...)
	return schema.StructFromValues(s.schema, vals)
}

// Varying builds source blocks that differ only in their last position field (a row number within one
// event): they share one slice of the other values (schema.StructWithLast), so each Struct costs a struct
// and a value, not a copy of the block.
type Varying struct {
	schema *schema.Schema
	head   []any // every value but the last, shared by the blocks; never written
}

// Varying returns a builder of in's source block with the last position value replaced per call.
func (s *Source) Varying(in SourceInfo) (*Varying, error) {
	if len(s.extra) == 0 {
		return nil, fmt.Errorf("source block: no position field to vary")
	}
	st, err := s.Struct(in)
	if err != nil {
		return nil, err
	}
	head := make([]any, len(s.schema.Fields)-1)
	for i := range head {
		head[i] = st.GetIndex(i)
	}
	return &Varying{schema: s.schema, head: head}, nil
}

// Struct returns the source block with last as its last position value (typed as that field declares).
func (v *Varying) Struct(last any) *schema.Struct { return v.StructIn(nil, last) }

// StructIn is Struct with the block's struct and last value taken from slab.
func (v *Varying) StructIn(slab *Slab, last any) *schema.Struct {
	cell := slab.Values(1)
	cell[0] = last
	st, _ := slab.sharedStruct(v.schema, v.head, &cell[0]) // head and last hold every field: never fails
	return st
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
	keyIndex   []int
	// keyRun, when the key's columns are consecutive row columns in the key's order (an id first, say), is
	// the first of them: the key then holds a window of the row image's values instead of copies of them.
	keyRun int
}

// NewTable builds the key and envelope schemas of a table from its row schema, named
// <prefix>.Key, <prefix>.Envelope (prefix = <topic.prefix>.<schema>.<table>, as Debezium names them).
// keyColumns names the primary key's columns, in order; none means records carry no key.
func NewTable(topic, prefix string, row *schema.Schema, keyColumns []string, src *Source) (*Table, error) {
	t := &Table{Topic: topic, Row: row, KeyColumns: keyColumns, keyRun: -1}
	if len(keyColumns) > 0 {
		kb := schema.StructBuilder().Name(prefix + ".Key")
		for _, c := range keyColumns {
			f, ok := row.Field(c)
			if !ok {
				return nil, fmt.Errorf("key column %q is not a column of %s", c, prefix)
			}
			kb.Field(c, f.Schema)
			t.keyIndex = append(t.keyIndex, f.Index)
		}
		k, err := kb.Build()
		if err != nil {
			return nil, fmt.Errorf("key schema of %s: %w", prefix, err)
		}
		t.Key = k
		t.keyRun = t.keyIndex[0]
		for i, idx := range t.keyIndex {
			if idx != t.keyIndex[0]+i {
				t.keyRun = -1
				break
			}
		}
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
	// Partition and Offset are the record's source partition and offset; LazyOffset, when Offset is nil.
	Partition, Offset map[string]any
	LazyOffset        schema.OffsetSource
	// Now is the envelope's ts_ms: when the connector processed the event.
	Now time.Time
	// NowMs, when set, is Now.UnixMilli() as an int64 value, boxed once for the rows of one event (each
	// record boxes its own otherwise).
	NowMs any
	// Slab, when set, supplies the records and their value slices.
	Slab *Slab
}

// Headers a key change puts on its delete and create records, as Debezium does: the delete names the
// row's new key, the create its old one.
const (
	HeaderNewKey = "__debezium.newkey"
	HeaderOldKey = "__debezium.oldkey"
)

// Records returns the event's record and, for a delete with tombstones, the tombstone that follows it (the
// same key, a nil value). Both carry the event's partition and offset. The images must hold values typed as
// the row schema's fields say (the connectors' decoders make them so); they are not validated again.
//
// An update that changes the row's key becomes, as in Debezium, a delete keyed by the old key (with its
// tombstone) followed by a create keyed by the new one: a consumer that keeps one row per key (a jdbc-sink
// with deletes enabled, a compacted topic) then drops the old row instead of keeping it beside the new.
func (t *Table) Records(e Event, tombstone bool) ([]*schema.Record, error) {
	return t.AppendRecords(nil, e, tombstone)
}

// AppendRecords is Records appending the records to dst. On an error dst is returned as it came.
func (t *Table) AppendRecords(dst []*schema.Record, e Event, tombstone bool) ([]*schema.Record, error) {
	if e.Op == OpUpdate && t.Key != nil && e.Before != nil && e.After != nil && !t.sameKey(e.Before, e.After) {
		del, cre := e, e
		del.Op, del.After = OpDelete, nil
		cre.Op, cre.Before = OpCreate, nil
		out, err := t.records(dst, del, tombstone)
		if err != nil {
			return dst, err
		}
		deleted := out[len(dst):]
		out, err = t.records(out, cre, false)
		if err != nil {
			return dst, err
		}
		created := out[len(out)-1]
		oldKey, newKey := deleted[0].Key, created.Key
		for _, r := range deleted {
			r.Headers.Add(HeaderNewKey, t.Key, newKey)
		}
		created.Headers.Add(HeaderOldKey, t.Key, oldKey)
		return out, nil
	}
	return t.records(dst, e, tombstone)
}

// sameKey reports whether two row images have equal key columns.
func (t *Table) sameKey(a, b []any) bool {
	for _, i := range t.keyIndex {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case schema.Decimal:
		y, ok := b.(schema.Decimal)
		return ok && x.Scale == y.Scale && (x.Unscaled == nil) == (y.Unscaled == nil) &&
			(x.Unscaled == nil || x.Unscaled.Cmp(y.Unscaled) == 0)
	}
	return reflect.DeepEqual(a, b)
}

// opValue is the op field's value; the known codes convert from constants, which allocates nothing.
func opValue(op Op) any {
	switch op {
	case OpCreate:
		return string(OpCreate)
	case OpUpdate:
		return string(OpUpdate)
	case OpDelete:
		return string(OpDelete)
	case OpRead:
		return string(OpRead)
	}
	return string(op)
}

// records appends the event's record, and its tombstone when asked for one, to dst.
func (t *Table) records(dst []*schema.Record, e Event, tombstone bool) ([]*schema.Record, error) {
	blk := e.Slab.envelope()
	vals := blk.vals[:]
	var keyImage []any
	for i, img := range [][]any{e.Before, e.After} {
		if img == nil {
			continue
		}
		row, err := e.Slab.innerStruct(t.Envelope.Fields[i].Schema, img)
		if err != nil {
			return dst, fmt.Errorf("%s image of %s: %w", t.Envelope.Fields[i].Name, t.Topic, err)
		}
		vals[i] = row
		keyImage = img // after wins: a key change is keyed by its new value
	}
	vals[2], vals[3], vals[4] = e.Source, opValue(e.Op), e.NowMs
	if e.NowMs == nil {
		vals[4] = e.Now.UnixMilli()
	}
	env, err := schema.StructAt(&blk.st, t.Envelope, vals)
	if err != nil {
		return dst, err
	}
	var key any
	if t.Key != nil && keyImage != nil {
		var kv []any
		if n := len(t.keyIndex); t.keyRun >= 0 {
			kv = keyImage[t.keyRun : t.keyRun+n : t.keyRun+n] // nothing changes a record's structs (transforms make new ones)
		} else {
			kv = e.Slab.Values(n)
			for i, idx := range t.keyIndex {
				kv[i] = keyImage[idx]
			}
		}
		k, err := e.Slab.innerStruct(t.Key, kv)
		if err != nil {
			return dst, fmt.Errorf("key of %s: %w", t.Topic, err)
		}
		key = k
	}
	ts := time.UnixMilli(0)
	if src := e.Source; src != nil {
		if ms, ok := src.GetIndex(3).(int64); ok {
			ts = time.UnixMilli(ms)
		}
	}
	rec := t.record(e, key, ts)
	rec.ValueSchema, rec.Value = t.Envelope, env
	dst = append(dst, rec)
	if e.Op == OpDelete && tombstone {
		dst = append(dst, t.record(e, key, ts))
	}
	return dst, nil
}

// record returns a record of the table's topic, key, the event's position and ts, and no value, as
// schema.NewRecord makes them (QueueID -1), from the slab. The slab's records are zeroed: only the fields
// set are written (a composite literal would write every field, through the write barrier while the
// collector marks).
func (t *Table) record(e Event, key any, ts time.Time) *schema.Record {
	rec := e.Slab.Record()
	rec.Topic, rec.QueueID = t.Topic, -1
	rec.KeySchema, rec.Key = t.Key, key
	rec.SourcePartition, rec.SourceOffset, rec.LazyOffset = e.Partition, e.Offset, e.LazyOffset
	rec.Timestamp = ts
	return rec
}
