package transforms

import (
	"strings"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// ExtractNewRecordState unwraps a Debezium change event (before, after, source, op, ts_ms) to the row state
// after the change, as Debezium's transform of that name does, so a sink writes rows. Records that are not
// change events (no op or no after field) pass unchanged.
//
// Deletes and tombstones follow delete.tombstone.handling.mode when it is set:
//   - drop: both are dropped;
//   - tombstone: the delete event is dropped, the tombstone kept;
//   - rewrite: the delete becomes its before image with __deleted=true, the tombstone is dropped;
//   - rewrite-with-tombstone: as rewrite, the tombstone kept;
//   - delete-to-tombstone: the delete becomes a tombstone (same key, nil value), the original tombstone dropped.
//
// Otherwise the older keys apply: drop.tombstones (default true) and delete.handling.mode = drop (default) |
// none (the delete becomes a tombstone) | rewrite. In both rewrite modes every other row gets __deleted=false.
// add.fields copies envelope fields into the row as __<name> (a dotted name such as source.ts_ms becomes
// __source_ts_ms; a plain name is read from the envelope, else from its source block); add.headers does the
// same into headers.
type ExtractNewRecordState struct {
	dropDeletes    bool
	deleteToTomb   bool
	rewrite        bool
	dropTombstones bool
	addFields      []string
	addHeaders     []string
	prefix         string
	headerPrefix   string
	cache          schemaCache
}

// The delete.tombstone.handling.mode values.
const (
	unwrapDrop                 = "drop"
	unwrapTombstone            = "tombstone"
	unwrapRewrite              = "rewrite"
	unwrapRewriteWithTombstone = "rewrite-with-tombstone"
	unwrapDeleteToTombstone    = "delete-to-tombstone"
	unwrapNone                 = "none"
	unwrapDeletedField         = "deleted"
)

var unwrapSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "delete.tombstone.handling.mode", Type: plugins.TypeString,
		Validators: []plugins.Validator{plugins.OneOf(unwrapDrop, unwrapTombstone, unwrapRewrite, unwrapRewriteWithTombstone, unwrapDeleteToTombstone)},
		Doc:        "What becomes of delete events and tombstones: drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone. Overrides drop.tombstones and delete.handling.mode."},
	plugins.Field{Name: "drop.tombstones", Type: plugins.TypeBoolean, Default: true,
		Doc: "Drop tombstones (when delete.tombstone.handling.mode is not set)."},
	plugins.Field{Name: "delete.handling.mode", Type: plugins.TypeString, Default: unwrapDrop,
		Validators: []plugins.Validator{plugins.OneOf(unwrapDrop, unwrapNone, unwrapRewrite)},
		Doc:        "Delete events: drop, none (pass as a tombstone) or rewrite (the before image with __deleted=true); used when delete.tombstone.handling.mode is not set."},
	plugins.Field{Name: "add.fields", Type: plugins.TypeList,
		Doc: "Envelope fields to add to the row as <add.fields.prefix><name> (op, ts_ms, table, source.ts_ms, lsn, ...)."},
	plugins.Field{Name: "add.fields.prefix", Type: plugins.TypeString, Default: "__", Doc: "Prefix of added fields."},
	plugins.Field{Name: "add.headers", Type: plugins.TypeList, Doc: "Envelope fields to add as headers."},
	plugins.Field{Name: "add.headers.prefix", Type: plugins.TypeString, Default: "__", Doc: "Prefix of added headers."},
)

// Spec declares the configuration keys.
func (t *ExtractNewRecordState) Spec() *plugins.ConfigSpec { return unwrapSpec }

// Configure reads the configuration.
func (t *ExtractNewRecordState) Configure(cfg map[string]string) error {
	v, err := unwrapSpec.Parse(cfg)
	if err != nil {
		return err
	}
	mode := v.String("delete.tombstone.handling.mode")
	if !v.IsSet("delete.tombstone.handling.mode") {
		switch v.String("delete.handling.mode") {
		case unwrapDrop:
			mode = unwrapDrop
		case unwrapNone:
			mode = unwrapDeleteToTombstone
		case unwrapRewrite:
			mode = unwrapRewrite
		}
		// drop.tombstones applies to the tombstones that follow deletes, never to a delete passed on as one.
		t.dropTombstones = v.Bool("drop.tombstones")
	} else {
		t.dropTombstones = mode == unwrapDrop || mode == unwrapRewrite || mode == unwrapDeleteToTombstone
	}
	t.dropDeletes = mode == unwrapDrop || mode == unwrapTombstone
	t.deleteToTomb = mode == unwrapDeleteToTombstone
	t.rewrite = mode == unwrapRewrite || mode == unwrapRewriteWithTombstone
	t.addFields = v.List("add.fields")
	t.addHeaders = v.List("add.headers")
	t.prefix = v.String("add.fields.prefix")
	t.headerPrefix = v.String("add.headers.prefix")
	return nil
}

// envelope reads the fields of a change event held as a struct or a map; ok is false when the value is not
// one.
type envelope struct {
	get    func(name string) (any, bool)
	schema func(name string) *schema.Schema // nil when schemaless
}

func asEnvelope(sc *schema.Schema, v any) (envelope, bool) {
	if st, isStruct := v.(*schema.Struct); isStruct && sc != nil && sc.Type == schema.StructType {
		if _, ok := sc.Field("op"); !ok {
			return envelope{}, false
		}
		if _, ok := sc.Field("after"); !ok {
			return envelope{}, false
		}
		return envelope{
			get: func(name string) (any, bool) {
				f, ok := sc.Field(name)
				if !ok {
					return nil, false
				}
				return st.GetIndex(f.Index), true
			},
			schema: func(name string) *schema.Schema { f, _ := sc.Field(name); return f.Schema },
		}, true
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return envelope{}, false
	}
	if _, ok := m["op"]; !ok {
		return envelope{}, false
	}
	if _, ok := m["after"]; !ok {
		return envelope{}, false
	}
	return envelope{get: func(name string) (any, bool) { x, ok := m[name]; return x, ok }}, true
}

// lookup finds an add.fields name: a.b is field b of struct a; a plain name is a top-level field, else one
// of the source block.
func (e envelope) lookup(name string) (any, *schema.Schema, bool) {
	parent, child, dotted := strings.Cut(name, ".")
	if !dotted {
		if v, ok := e.get(name); ok {
			var s *schema.Schema
			if e.schema != nil {
				s = e.schema(name)
			}
			return v, s, true
		}
		parent, child = "source", name
	}
	p, ok := e.get(parent)
	if !ok || p == nil {
		return nil, nil, false
	}
	switch pv := p.(type) {
	case *schema.Struct:
		f, ok := pv.Schema().Field(child)
		if !ok {
			return nil, nil, false
		}
		return pv.GetIndex(f.Index), f.Schema, true
	case map[string]any:
		v, ok := pv[child]
		return v, nil, ok
	}
	return nil, nil, false
}

// Apply unwraps the record.
func (t *ExtractNewRecordState) Apply(r *schema.Record) (*schema.Record, error) {
	if r.Value == nil {
		if t.dropTombstones {
			return nil, nil
		}
		return r, nil
	}
	env, ok := asEnvelope(r.ValueSchema, r.Value)
	if !ok {
		return r, nil
	}
	opv, _ := env.get("op")
	op, _ := opv.(string)
	image := "after"
	if op == "d" {
		switch {
		case t.dropDeletes:
			return nil, nil
		case t.deleteToTomb:
			c := *r
			c.ValueSchema, c.Value = nil, nil
			c.Headers = t.headers(r, env)
			return &c, nil
		}
		image = "before"
	}
	row, _ := env.get(image)
	var rowSchema *schema.Schema
	if env.schema != nil {
		rowSchema = env.schema(image)
	}
	if row == nil {
		// An update or insert without an after image (or a delete without before) carries nothing to write.
		return nil, nil
	}
	type extra struct {
		name string
		s    *schema.Schema
		v    any
	}
	var extras []extra
	for _, name := range t.addFields {
		v, s, _ := env.lookup(name)
		extras = append(extras, extra{t.prefix + strings.ReplaceAll(name, ".", "_"), optional(s), v})
	}
	if t.rewrite {
		d := "false"
		if op == "d" {
			d = "true"
		}
		extras = append(extras, extra{t.prefix + unwrapDeletedField, schema.OptionalStringSchema, d})
	}
	c := *r
	c.Headers = t.headers(r, env)
	if rowSchema == nil {
		m, err := requireMap(row, "ExtractNewRecordState "+image)
		if err != nil {
			return nil, err
		}
		if len(extras) == 0 {
			c.ValueSchema, c.Value = nil, m
			return &c, nil
		}
		out := make(map[string]any, len(m)+len(extras))
		for k, v := range m {
			out[k] = v
		}
		for _, e := range extras {
			out[e.name] = e.v
		}
		c.ValueSchema, c.Value = nil, out
		return &c, nil
	}
	st, err := requireStruct(rowSchema, row, "ExtractNewRecordState "+image)
	if err != nil {
		return nil, err
	}
	if len(extras) == 0 {
		c.ValueSchema, c.Value = st.Schema(), st
		return &c, nil
	}
	in := st.Schema()
	outSchema, err := t.cache.get(in, func(in *schema.Schema) (*schema.Schema, error) {
		fields := append([]schema.Field(nil), in.Fields...)
		for _, e := range extras {
			s := e.s
			if s == nil {
				s = schema.OptionalStringSchema
			}
			fields = append(fields, schema.Field{Name: e.name, Schema: s})
		}
		out := structWith(in, fields)
		out.Optional = false
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(outSchema.Fields))
	for i := range in.Fields {
		vals = append(vals, st.GetIndex(i))
	}
	for _, e := range extras {
		vals = append(vals, e.v)
	}
	out, err := fill(outSchema, vals)
	if err != nil {
		return nil, err
	}
	c.ValueSchema, c.Value = outSchema, out
	return &c, nil
}

// headers returns r's headers with add.headers appended (a copy when any are added).
func (t *ExtractNewRecordState) headers(r *schema.Record, env envelope) schema.Headers {
	if len(t.addHeaders) == 0 {
		return r.Headers
	}
	h := r.Headers.Clone()
	for _, name := range t.addHeaders {
		v, s, _ := env.lookup(name)
		h.Add(t.headerPrefix+strings.ReplaceAll(name, ".", "_"), optional(s), v)
	}
	return h
}
