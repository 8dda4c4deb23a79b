package transforms

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// InsertField adds fields with record metadata to a struct or map key/value:
// topic.field, partition.field (the queue id), offset.field (the queue
// offset), timestamp.field and static.field/static.value. A name ending in
// "!" makes the field required in the new schema, "?" (the default) optional.
// Null keys/values pass through. Schemaless timestamps are int64 epoch millis.
type InsertField struct {
	side      side
	topic     insertSpec
	partition insertSpec
	offset    insertSpec
	timestamp insertSpec
	static    insertSpec
	value     string
	cache     schemaCache
}

type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) insertSpec {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return insertSpec{}
	case strings.HasSuffix(s, "!"):
		return insertSpec{name: strings.TrimSuffix(s, "!")}
	case strings.HasSuffix(s, "?"):
		return insertSpec{name: strings.TrimSuffix(s, "?"), optional: true}
	}
	return insertSpec{name: s, optional: true}
}

var insertFieldSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "topic.field", Type: plugins.TypeString, Doc: "Field for the topic name; suffix ! for required, ? for optional."},
	plugins.Field{Name: "partition.field", Type: plugins.TypeString, Doc: "Field for the queue id."},
	plugins.Field{Name: "offset.field", Type: plugins.TypeString, Doc: "Field for the queue offset."},
	plugins.Field{Name: "timestamp.field", Type: plugins.TypeString, Doc: "Field for the record timestamp."},
	plugins.Field{Name: "static.field", Type: plugins.TypeString, Doc: "Field for a static value."},
	plugins.Field{Name: "static.value", Type: plugins.TypeString, Doc: "The static value."},
)

// Spec declares the configuration keys.
func (t *InsertField) Spec() *plugins.ConfigSpec { return insertFieldSpec }

// Configure reads the configuration.
func (t *InsertField) Configure(cfg map[string]string) error {
	v, err := insertFieldSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.topic = parseInsertSpec(v.String("topic.field"))
	t.partition = parseInsertSpec(v.String("partition.field"))
	t.offset = parseInsertSpec(v.String("offset.field"))
	t.timestamp = parseInsertSpec(v.String("timestamp.field"))
	t.static = parseInsertSpec(v.String("static.field"))
	t.value = v.String("static.value")
	if t.static.name != "" && !v.IsSet("static.value") {
		return &cfgerr.Error{Key: "static.value", Reason: "required when static.field is set", Err: plugins.ErrMissingRequired}
	}
	// Two keys naming one field would give a struct schema with that field twice (and, schemaless, keep only
	// the last value), so the configuration is refused here rather than every record failing later.
	firstKey := map[string]string{}
	for _, k := range []struct {
		key  string
		spec insertSpec
	}{{"topic.field", t.topic}, {"partition.field", t.partition}, {"offset.field", t.offset},
		{"timestamp.field", t.timestamp}, {"static.field", t.static}} {
		raw := v.String(k.key)
		switch other, dup := firstKey[k.spec.name]; {
		case k.spec.name == "" && strings.TrimSpace(raw) != "":
			return &cfgerr.Error{Key: k.key, Value: raw, Reason: "names no field (only the ! or ? marker)", Err: plugins.ErrInvalidValue}
		case k.spec.name == "":
		case dup:
			return &cfgerr.Error{Key: k.key, Value: raw, Reason: fmt.Sprintf("names the same field as %s", other), Err: plugins.ErrInvalidValue}
		default:
			firstKey[k.spec.name] = k.key
		}
	}
	return nil
}

type inserted struct {
	spec insertSpec
	sc   *schema.Schema
	v    any
}

func (t *InsertField) fields(r *schema.Record, withSchema bool) []inserted {
	var out []inserted
	add := func(s insertSpec, sc *schema.Schema, v any) {
		if s.name == "" {
			return
		}
		if s.optional {
			sc = optional(sc)
		}
		out = append(out, inserted{s, sc, v})
	}
	add(t.topic, schema.StringSchema, r.Topic)
	var part any
	if r.QueueID >= 0 {
		part = int32(r.QueueID)
		if !withSchema {
			part = int64(r.QueueID)
		}
	}
	add(t.partition, schema.Int32Schema, part)
	add(t.offset, schema.Int64Schema, r.QueueOffset)
	var ts any
	if !r.Timestamp.IsZero() {
		ts = r.Timestamp.UTC()
		if !withSchema {
			ts = r.Timestamp.UnixMilli()
		}
	}
	add(t.timestamp, schema.TimestampSchema(), ts)
	add(t.static, schema.StringSchema, t.value)
	return out
}

// Apply inserts the configured fields.
func (t *InsertField) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, "InsertField "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := copyMap(m)
		for _, f := range t.fields(r, false) {
			out[f.spec.name] = f.v
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "InsertField "+t.side.String())
	if err != nil {
		return nil, err
	}
	ins := t.fields(r, true)
	newSc, err := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		fields := append([]schema.Field(nil), sc.Fields...)
		for _, f := range ins {
			if _, dup := sc.Field(f.spec.name); dup {
				return nil, unsupported("InsertField: field %q already exists", f.spec.name)
			}
			fields = append(fields, schema.Field{Name: f.spec.name, Schema: f.sc})
		}
		return structWith(sc, fields), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(newSc.Fields))
	for i := range sc.Fields {
		vals = append(vals, st.GetIndex(i))
	}
	for _, f := range ins {
		vals = append(vals, f.v)
	}
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("InsertField: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

// ReplaceField keeps, drops and renames top-level fields: exclude (alias
// blacklist), include (alias whitelist) and renames (old:new,...).
type ReplaceField struct {
	side    side
	exclude map[string]bool
	include map[string]bool
	renames map[string]string
	cache   schemaCache
}

var replaceFieldSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "exclude", Type: plugins.TypeList, Default: "", Aliases: []string{"blacklist"}, Doc: "Fields to drop."},
	plugins.Field{Name: "include", Type: plugins.TypeList, Default: "", Aliases: []string{"whitelist"}, Doc: "Fields to keep (all when empty)."},
	plugins.Field{Name: "renames", Type: plugins.TypeList, Default: "", Doc: "Renames as old:new pairs.",
		Validators: []plugins.Validator{plugins.MatchesRegex(`[^:]+:[^:]+`)}},
)

// Spec declares the configuration keys.
func (t *ReplaceField) Spec() *plugins.ConfigSpec { return replaceFieldSpec }

// Configure reads the configuration.
func (t *ReplaceField) Configure(cfg map[string]string) error {
	v, err := replaceFieldSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.exclude, t.include, t.renames = set(v.List("exclude")), set(v.List("include")), map[string]string{}
	for _, p := range v.List("renames") {
		from, to, _ := strings.Cut(p, ":")
		t.renames[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	return nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func (t *ReplaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *ReplaceField) rename(name string) string {
	if to, ok := t.renames[name]; ok {
		return to
	}
	return name
}

// Apply filters and renames.
func (t *ReplaceField) Apply(r *schema.Record) (*schema.Record, error) {
	return renameFields(r, t.side, "ReplaceField", &t.cache, func(name string) (string, bool) {
		return t.rename(name), t.keep(name)
	})
}

// renameFields rebuilds a struct or map keeping the fields fn accepts under
// the names it returns. Null values pass through; two kept fields given the
// same name are an error.
func renameFields(r *schema.Record, s side, what string, cache *schemaCache, fn func(string) (string, bool)) (*schema.Record, error) {
	sc, v := s.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, what+" "+s.String())
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			to, ok := fn(k)
			if !ok {
				continue
			}
			if _, dup := out[to]; dup {
				// Which of the two would win depends on Go's random map order, so the record fails, as it
				// does with a schema.
				other := ""
				for k2 := range m {
					if to2, ok := fn(k2); ok && to2 == to && k2 != k {
						other = k2
						break
					}
				}
				a, b := min(k, other), max(k, other)
				return nil, unsupported("%s: fields %q and %q would both be named %q", what, a, b, to)
			}
			out[to] = x
		}
		return s.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, what+" "+s.String())
	if err != nil {
		return nil, err
	}
	newSc, err := cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		var fields []schema.Field
		seen := map[string]bool{}
		for _, f := range sc.Fields {
			to, ok := fn(f.Name)
			if !ok {
				continue
			}
			if seen[to] {
				return nil, unsupported("%s: two fields would be named %q", what, to)
			}
			seen[to] = true
			fields = append(fields, schema.Field{Name: to, Schema: f.Schema})
		}
		return structWith(sc, fields), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(newSc.Fields))
	for i, f := range sc.Fields {
		if _, ok := fn(f.Name); ok {
			vals = append(vals, st.GetIndex(i))
		}
	}
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return s.with(r, newSc, out), nil
}

// ValueToKey replaces the key with a struct or map of the listed value fields.
type ValueToKey struct {
	fields []string
	cache  schemaCache
}

var valueToKeySpec = plugins.MustConfigSpec(
	plugins.Field{Name: "fields", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Value fields that form the key."},
)

// Spec declares the configuration keys.
func (t *ValueToKey) Spec() *plugins.ConfigSpec { return valueToKeySpec }

// Configure reads the configuration.
func (t *ValueToKey) Configure(cfg map[string]string) error {
	v, err := valueToKeySpec.Parse(cfg)
	if err != nil {
		return err
	}
	// A field listed twice is taken once: Kafka's key schema would hold it twice (every record with a
	// schema fails), while without a schema Kafka keeps it once.
	t.fields = nil
	for _, f := range v.List("fields") {
		if !slices.Contains(t.fields, f) {
			t.fields = append(t.fields, f)
		}
	}
	return nil
}

// Apply builds the key.
func (t *ValueToKey) Apply(r *schema.Record) (*schema.Record, error) {
	if r.ValueSchema == nil {
		m, err := requireMap(r.Value, "ValueToKey value")
		if err != nil {
			return nil, err
		}
		key := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			key[f] = m[f]
		}
		c := *r
		c.KeySchema, c.Key = nil, key
		return &c, nil
	}
	st, err := requireStruct(r.ValueSchema, r.Value, "ValueToKey value")
	if err != nil {
		return nil, err
	}
	keySc, err := t.cache.get(r.ValueSchema, func(sc *schema.Schema) (*schema.Schema, error) {
		fields := make([]schema.Field, len(t.fields))
		for i, name := range t.fields {
			f, ok := sc.Field(name)
			if !ok {
				return nil, fmt.Errorf("ValueToKey: %w: %q", ErrFieldNotFound, name)
			}
			fields[i] = schema.Field{Name: name, Schema: f.Schema}
		}
		return structWith(&schema.Schema{Type: typeStruct}, fields), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(t.fields))
	for i, name := range t.fields {
		f, _ := r.ValueSchema.Field(name)
		vals[i] = st.GetIndex(f.Index)
	}
	key, err := fill(keySc, vals)
	if err != nil {
		return nil, fmt.Errorf("ValueToKey: %w", err)
	}
	c := *r
	c.KeySchema, c.Key = keySc, key
	return &c, nil
}

// ExtractField replaces the key or value with one of its fields. A null
// key/value stays null.
type ExtractField struct {
	side  side
	field string
}

var fieldSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "field", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Field name."},
)

// Spec declares the configuration keys.
func (t *ExtractField) Spec() *plugins.ConfigSpec { return fieldSpec }

// Configure reads the configuration.
func (t *ExtractField) Configure(cfg map[string]string) error {
	v, err := fieldSpec.Parse(cfg)
	t.field = v.String("field")
	return err
}

// Apply extracts the field.
func (t *ExtractField) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if sc == nil {
		if v == nil {
			return r, nil
		}
		m, err := requireMap(v, "ExtractField "+t.side.String())
		if err != nil {
			return nil, err
		}
		return t.side.with(r, nil, m[t.field]), nil
	}
	if sc.Type != typeStruct {
		return nil, unsupported("ExtractField %s: needs a struct schema, got %s", t.side, sc)
	}
	f, ok := sc.Field(t.field)
	if !ok {
		return nil, fmt.Errorf("ExtractField %s: %w: %q", t.side, ErrFieldNotFound, t.field)
	}
	if v == nil {
		return t.side.with(r, f.Schema, nil), nil
	}
	st, err := requireStruct(sc, v, "ExtractField "+t.side.String())
	if err != nil {
		return nil, err
	}
	return t.side.with(r, f.Schema, fieldValue(st, f.Index)), nil
}

// HoistField wraps the key or value in a struct (or map) with one field.
type HoistField struct {
	side  side
	field string
	cache schemaCache
}

// Spec declares the configuration keys.
func (t *HoistField) Spec() *plugins.ConfigSpec { return fieldSpec }

// Configure reads the configuration.
func (t *HoistField) Configure(cfg map[string]string) error {
	v, err := fieldSpec.Parse(cfg)
	t.field = v.String("field")
	return err
}

// Apply wraps the key or value.
func (t *HoistField) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if sc == nil {
		return t.side.with(r, nil, map[string]any{t.field: v}), nil
	}
	newSc, _ := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		return structWith(&schema.Schema{Type: typeStruct}, []schema.Field{{Name: t.field, Schema: sc}}), nil
	})
	out, err := fill(newSc, []any{v})
	if err != nil {
		return nil, fmt.Errorf("HoistField: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}
