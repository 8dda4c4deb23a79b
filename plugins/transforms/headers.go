package transforms

import (
	"fmt"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// withHeaders returns a shallow copy of r owning a fresh header slice.
func withHeaders(r *schema.Record) *schema.Record {
	c := *r
	c.Headers = append(make(schema.Headers, 0, len(r.Headers)+1), r.Headers...)
	return &c
}

// InsertHeader adds a header with a literal string value.
type InsertHeader struct {
	header string
	value  string
}

var insertHeaderSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "header", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Header key."},
	plugins.Field{Name: "value.literal", Type: plugins.TypeString, Required: true, Doc: "Header value (a string)."},
)

// Spec declares the configuration keys.
func (t *InsertHeader) Spec() *plugins.ConfigSpec { return insertHeaderSpec }

// Configure reads the configuration.
func (t *InsertHeader) Configure(cfg map[string]string) error {
	v, err := insertHeaderSpec.Parse(cfg)
	t.header, t.value = v.String("header"), v.String("value.literal")
	return err
}

// Apply adds the header.
func (t *InsertHeader) Apply(r *schema.Record) (*schema.Record, error) {
	c := withHeaders(r)
	c.Headers.Add(t.header, schema.StringSchema, t.value)
	return c, nil
}

// DropHeaders removes every header with one of the listed keys.
type DropHeaders struct{ headers map[string]bool }

var dropHeadersSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "headers", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Header keys to remove."},
)

// Spec declares the configuration keys.
func (t *DropHeaders) Spec() *plugins.ConfigSpec { return dropHeadersSpec }

// Configure reads the configuration.
func (t *DropHeaders) Configure(cfg map[string]string) error {
	v, err := dropHeadersSpec.Parse(cfg)
	t.headers = set(v.List("headers"))
	return err
}

// Apply removes the headers.
func (t *DropHeaders) Apply(r *schema.Record) (*schema.Record, error) {
	c := *r
	c.Headers = make(schema.Headers, 0, len(r.Headers))
	for _, h := range r.Headers {
		if !t.headers[h.Key] {
			c.Headers = append(c.Headers, h)
		}
	}
	return &c, nil
}

// HeaderFrom copies (operation=copy) or moves (operation=move) fields of the
// key/value into headers: fields[i] goes to headers[i], with the field's
// schema. Null keys/values pass through.
type HeaderFrom struct {
	side    side
	fields  []string
	headers []string
	move    bool
	cache   schemaCache
}

var headerFromSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "fields", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Fields to read."},
	plugins.Field{Name: "headers", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Header keys, one per field."},
	plugins.Field{Name: "operation", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.OneOf("copy", "move")}, Doc: "copy or move."},
)

// Spec declares the configuration keys.
func (t *HeaderFrom) Spec() *plugins.ConfigSpec { return headerFromSpec }

// Configure reads the configuration.
func (t *HeaderFrom) Configure(cfg map[string]string) error {
	v, err := headerFromSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.fields, t.headers = v.List("fields"), v.List("headers")
	t.move = strings.EqualFold(v.String("operation"), "move")
	if len(t.fields) != len(t.headers) {
		return &cfgerr.Error{Key: "headers", Value: cfg["headers"],
			Reason: fmt.Sprintf("has %d entries but fields has %d", len(t.headers), len(t.fields)), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Apply copies or moves the fields.
func (t *HeaderFrom) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	c := withHeaders(r)
	if sc == nil {
		m, err := requireMap(v, "HeaderFrom "+t.side.String())
		if err != nil {
			return nil, err
		}
		for i, f := range t.fields {
			c.Headers.Add(t.headers[i], nil, m[f])
		}
		if t.move {
			out := copyMap(m)
			for _, f := range t.fields {
				delete(out, f)
			}
			return t.side.with(c, nil, out), nil
		}
		return c, nil
	}
	st, err := requireStruct(sc, v, "HeaderFrom "+t.side.String())
	if err != nil {
		return nil, err
	}
	for i, name := range t.fields {
		f, ok := sc.Field(name)
		if !ok {
			return nil, fmt.Errorf("HeaderFrom %s: %w: %q", t.side, ErrFieldNotFound, name)
		}
		c.Headers.Add(t.headers[i], f.Schema, fieldValue(st, f.Index))
	}
	if !t.move {
		return c, nil
	}
	moved := set(t.fields)
	return renameFields(c, t.side, "HeaderFrom", &t.cache, func(n string) (string, bool) { return n, !moved[n] })
}
