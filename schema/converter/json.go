package converter

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rmqconnect/rmqconnect/schema"
)

// JSONConverter is Kafka Connect's JsonConverter. With `schemas.enable=true` (the default) each message is the
// envelope {"schema":…,"payload":…}, byte for byte what Kafka's converter writes (compact; schema attributes in
// the order type, items|keys,values|fields, optional, name, version, doc, parameters, default; struct fields in
// schema order, each with its "field" name last). With `schemas.enable=false` it is the bare payload and decoding
// is schemaless.
//
// Where Kafka's output depends on Java hash-map order this one is deterministic: map entries are sorted (string
// keys, or the encoded key for pair-list maps) and schema parameters are sorted, the Decimal "scale" first.
//
// Settings: schemas.enable (true), decimal.format (BASE64 | NUMERIC), replace.null.with.default (true),
// schemas.cache.size (1000; parsed and rendered schemas cached per converter, 0 disables). Each of the two caches
// also holds at most 8 MiB of schema text, and a schema whose text is over 64 KiB is not cached (it is parsed or
// rendered for each message), so messages carrying large schemas cannot make a converter hold much memory.
//
// A Decimal of more than schema.MaxDecimalDigits (10,000) digits, as a number or as base64 bytes, is refused, and
// so is a number of more significant digits than an int64 has in an integer field, both before the number is read
// exactly: Kafka's BigDecimal has no bound, but reading decimal digits takes time quadratic in their number.
type JSONConverter struct {
	schemasEnable  bool
	decimalNumeric bool
	replaceNull    bool
	cacheSize      int
	mu             sync.Mutex
	encodedSchemas map[*schema.Schema][]byte
	encodedBytes   int // text held by encodedSchemas
	decodedSchemas map[string]*schema.Schema
	decodedBytes   int          // text held by decodedSchemas (the keys)
	sizeHint       atomic.Int64 // size of the last message encoded, to allocate the next buffer once
}

// Bounds of the schema caches beyond schemas.cache.size: the text of one cached schema, and of all of a cache's.
const (
	maxCachedSchemaBytes = 64 << 10
	schemaCacheBytes     = 8 << 20
)

// NewJSONConverter returns a JSONConverter with Kafka's defaults.
func NewJSONConverter() *JSONConverter {
	return &JSONConverter{schemasEnable: true, replaceNull: true, cacheSize: 1000}
}

// Configure applies the settings listed on JSONConverter.
func (c *JSONConverter) Configure(cfg map[string]string, _ bool) error {
	boolSetting := func(key string, dst *bool) error {
		v, ok := cfg[key]
		if !ok {
			return nil
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			return configError(key, v, "not a boolean (true|false)")
		}
		return nil
	}
	if err := boolSetting("schemas.enable", &c.schemasEnable); err != nil {
		return err
	}
	if err := boolSetting("replace.null.with.default", &c.replaceNull); err != nil {
		return err
	}
	if v, ok := cfg["decimal.format"]; ok {
		switch strings.ToUpper(strings.TrimSpace(v)) {
		case "BASE64":
			c.decimalNumeric = false
		case "NUMERIC":
			c.decimalNumeric = true
		default:
			return configError("decimal.format", v, "must be BASE64 or NUMERIC")
		}
	}
	if v, ok := cfg["schemas.cache.size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return configError("schemas.cache.size", v, "not a non-negative integer")
		}
		c.cacheSize = n
	}
	c.mu.Lock()
	c.encodedSchemas, c.decodedSchemas = nil, nil
	c.encodedBytes, c.decodedBytes = 0, 0
	c.mu.Unlock()
	return nil
}

// FromConnect encodes v (see JSONConverter). A nil schema with a nil value gives nil (a tombstone). A *Struct
// given without a schema is written with its own schema.
func (c *JSONConverter) FromConnect(_ string, s *schema.Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return nil, nil
	}
	if st, ok := v.(*schema.Struct); ok && s == nil && st != nil {
		s = st.Schema()
	}
	buf := make([]byte, 0, max(64, c.sizeHint.Load()+c.sizeHint.Load()/8))
	var err error
	if c.schemasEnable {
		buf = append(buf, `{"schema":`...)
		if buf, err = c.appendCachedSchema(buf, s); err != nil {
			return nil, fmt.Errorf("json converter: encode schema: %w", err)
		}
		buf = append(buf, `,"payload":`...)
	}
	e := encoder{decimalNumeric: c.decimalNumeric, replaceNull: c.replaceNull}
	if buf, err = e.appendValue(buf, s, v); err != nil {
		return nil, fmt.Errorf("json converter: encode: %w", err)
	}
	if c.schemasEnable {
		buf = append(buf, '}')
	}
	c.sizeHint.Store(int64(len(buf)))
	return buf, nil
}

func (c *JSONConverter) appendCachedSchema(buf []byte, s *schema.Schema) ([]byte, error) {
	if s == nil {
		return append(buf, "null"...), nil
	}
	if c.cacheSize > 0 {
		c.mu.Lock()
		cached, ok := c.encodedSchemas[s]
		c.mu.Unlock()
		if ok {
			return append(buf, cached...), nil
		}
	}
	e := encoder{decimalNumeric: c.decimalNumeric, replaceNull: c.replaceNull}
	enc, err := e.appendSchema(nil, s)
	if err != nil {
		return nil, err
	}
	if c.cacheSize > 0 && len(enc) <= maxCachedSchemaBytes {
		c.mu.Lock()
		if c.encodedSchemas == nil || len(c.encodedSchemas) >= c.cacheSize || c.encodedBytes+len(enc) > schemaCacheBytes {
			c.encodedSchemas, c.encodedBytes = make(map[*schema.Schema][]byte), 0
		}
		if _, dup := c.encodedSchemas[s]; !dup {
			c.encodedBytes += len(enc)
		}
		c.encodedSchemas[s] = enc
		c.mu.Unlock()
	}
	return append(buf, enc...), nil
}

// ToConnect decodes data. nil or empty data is a tombstone (nil, nil, nil). With schemas enabled the input must
// be an object with exactly the keys "schema" and "payload". The returned schema is cached and shared between
// calls: treat it as read-only (derive changes with schema.FromSchema).
func (c *JSONConverter) ToConnect(_ string, data []byte) (*schema.Schema, any, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	d := decoder{replaceNull: c.replaceNull}
	if !c.schemasEnable {
		node, err := parseDocument(data)
		if err != nil {
			return nil, nil, err
		}
		v, err := d.convert(nil, node)
		if err != nil {
			return nil, nil, fmt.Errorf("json converter: decode: %w", err)
		}
		return nil, v, nil
	}
	rawSchema, rawPayload, err := parseEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.cachedSchema(rawSchema)
	if err != nil {
		return nil, nil, err
	}
	v, err := d.decodePayload(s, rawPayload)
	if err != nil {
		return nil, nil, fmt.Errorf("json converter: decode payload: %w", err)
	}
	return s, v, nil
}

// parseEnvelope checks that data is an object with exactly the members "schema" and "payload", both valid JSON,
// and returns them raw: the schema to look up in the cache before building it, the payload to decode once the
// schema is known.
func parseEnvelope(data []byte) (rawSchema, rawPayload []byte, err error) {
	p := parser{data: data}
	p.skipSpace()
	isObject := p.pos < len(data) && data[p.pos] == '{'
	if !isObject {
		if _, err := parseDocument(data); err != nil {
			return nil, nil, err
		}
		return nil, nil, errNoEnvelope
	}
	p.pos++
	p.depth++
	var hasSchema, hasPayload bool
	others := 0
	for first := true; ; first = false {
		p.skipSpace()
		if first && p.pos < len(data) && data[p.pos] == '}' {
			p.pos++
			break
		}
		if p.pos >= len(data) || data[p.pos] != '"' {
			return nil, nil, p.fail("expected an object key")
		}
		key, err := p.str(true)
		if err != nil {
			return nil, nil, err
		}
		p.skipSpace()
		if p.pos >= len(data) || data[p.pos] != ':' {
			return nil, nil, p.fail("expected ':'")
		}
		p.pos++
		switch key {
		case "schema":
			p.skipSpace()
			start := p.pos
			if _, err := p.value(false); err != nil {
				return nil, nil, err
			}
			rawSchema, hasSchema = data[start:p.pos], true
		case "payload":
			p.skipSpace()
			start := p.pos
			if _, err := p.value(false); err != nil {
				return nil, nil, err
			}
			rawPayload, hasPayload = data[start:p.pos], true
		default:
			if _, err := p.value(false); err != nil {
				return nil, nil, err
			}
			others++
		}
		p.skipSpace()
		if p.pos >= len(data) {
			return nil, nil, p.fail("unexpected end of input")
		}
		if data[p.pos] == ',' {
			p.pos++
			continue
		}
		if data[p.pos] != '}' {
			return nil, nil, p.fail("expected ',' or '}'")
		}
		p.pos++
		break
	}
	if err := p.end(); err != nil {
		return nil, nil, err
	}
	if !hasSchema || !hasPayload || others > 0 {
		return nil, nil, errNoEnvelope
	}
	return rawSchema, rawPayload, nil
}

var errNoEnvelope = fmt.Errorf("json converter: with schemas.enable=true the message must be an object with exactly the fields "+
	"\"schema\" and \"payload\" (set schemas.enable=false for plain JSON): %w", ErrMalformed)

func (c *JSONConverter) cachedSchema(raw []byte) (*schema.Schema, error) {
	if c.cacheSize > 0 {
		c.mu.Lock()
		s, ok := c.decodedSchemas[string(raw)]
		c.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	node, err := parseDocument(raw)
	if err != nil {
		return nil, err
	}
	d := decoder{replaceNull: c.replaceNull}
	s, err := d.parseSchema(node)
	if err != nil {
		return nil, fmt.Errorf("json converter: decode schema: %w", err)
	}
	if s != nil {
		if err := schema.CheckSchema(s); err != nil {
			return nil, fmt.Errorf("json converter: decode schema: %w", err)
		}
	}
	if c.cacheSize > 0 && len(raw) <= maxCachedSchemaBytes {
		c.mu.Lock()
		if c.decodedSchemas == nil || len(c.decodedSchemas) >= c.cacheSize || c.decodedBytes+len(raw) > schemaCacheBytes {
			c.decodedSchemas, c.decodedBytes = make(map[string]*schema.Schema), 0
		}
		if _, dup := c.decodedSchemas[string(raw)]; !dup {
			c.decodedBytes += len(raw)
		}
		c.decodedSchemas[string(raw)] = s
		c.mu.Unlock()
	}
	return s, nil
}

// EncodeSchema renders a schema in the Kafka Connect JSON form used in the envelope ("null" for nil).
func EncodeSchema(s *schema.Schema) ([]byte, error) {
	e := encoder{replaceNull: true}
	return e.appendSchema(nil, s)
}

// DecodeSchema parses a schema in the Kafka Connect JSON form (nil for "null"), checking it with
// schema.CheckSchema.
func DecodeSchema(data []byte) (*schema.Schema, error) {
	node, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	d := decoder{replaceNull: true}
	s, err := d.parseSchema(node)
	if err != nil {
		return nil, err
	}
	if s != nil {
		if err := schema.CheckSchema(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
