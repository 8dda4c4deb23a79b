package converter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/avro"
	"github.com/rmqconnect/rmqconnect/schema/registry"
)

// RecordIDSize is the length of the big-endian record-id prefix of every message the Avro converter writes
// (RocketMQ Connect's Java schema converters write the same).
const RecordIDSize = 8

// AvroConverter writes Connect data as Avro binary with its schema kept in a schema registry (the Apache RocketMQ
// Schema Registry API, package registry). Each message is the 8-byte big-endian record id of the writer's schema
// followed by the Avro datum; a reader fetches the writer's schema by that id.
//
// Settings:
//   - schema.registry.url (required), schema.registry.cluster and schema.registry.tenant ("default"),
//     schema.registry.timeout.ms (10000, per attempt), schema.registry.max.retries (3),
//     schema.registry.total.timeout.ms (30000): the most registry time one conversion may take, every call,
//     attempt and wait included (the Converter API carries no context, so this is what bounds how long a record,
//     and a task stopping behind it, waits on a registry that does not answer).
//   - subject.name.strategy: "topic-value" (default; subject and schema name `<topic>-key` / `<topic>-value`) or
//     "topic" (subject `<topic>`, schema name `<topic>-key` / `<topic>-value`, as the Java converter does).
//   - auto.register.schemas (true): register the schema derived from the Connect schema (a new version when it
//     differs from the registered ones; the registry refuses an incompatible one). With false the schema must
//     already be registered.
//   - use.latest.version (false): when writing without auto-registration, write with the subject's latest
//     schema (fields matched by name); when reading, decode with the writer's schema and project onto the latest
//     one (Avro schema resolution). latest.cache.ttl.sec (60; 0 fetches it for every record, -1 never refreshes)
//     bounds how long the latest schema is reused, by writers and readers alike.
//   - schema.compatibility (BACKWARD): the mode a subject gets when this converter registers its first version.
//   - schemas.cache.size (1000): codecs cached per converter.
//
// Registry failures (transport errors, 5xx, 408, 429) are retried; one that outlasts the retries or the
// conversion's time gives an error wrapping registry.ErrUnavailable, which the worker may retry later.
//
// Decoded schemas are cached and shared between calls: treat them as read-only.
type AvroConverter struct {
	isKey        bool
	client       *registry.Client
	autoRegister bool
	useLatest    bool
	topicOnly    bool
	compat       avro.Mode
	latestTTL    time.Duration // < 0: never refresh
	cacheSize    int
	totalTimeout time.Duration // registry time of one conversion
	// idInPrefix: the record id travels as the body's 8-byte prefix (RocketMQ Connect's Java
	// converters) rather than in a message property.
	idInPrefix bool

	mu      sync.Mutex
	writers map[writerKey]*writerEntry
	byIDL   map[string]*writerEntry // subject + "\x00" + derived Avro schema: equal schemas built anew share one entry
	readers map[readerKey]*avro.Codec
	latest  map[string]latestEntry
}

type writerKey struct {
	subject string
	schema  *schema.Schema
}

type writerEntry struct {
	id       [RecordIDSize]byte
	recordID int64
	codec    *avro.Codec
	latest   bool // written with the subject's latest schema: good while that is still the latest
}

type readerKey struct {
	subject          string
	writer, readerID int64
}

type latestEntry struct {
	rec     registry.SchemaRecord
	schema  *avro.Schema
	fetched time.Time
}

// NewAvroConverter returns an unconfigured AvroConverter; Configure must name the registry.
func NewAvroConverter() *AvroConverter {
	return &AvroConverter{autoRegister: true, compat: avro.DefaultMode, latestTTL: time.Minute, cacheSize: 1000,
		totalTimeout: 30 * time.Second}
}

// Configure applies the settings listed on AvroConverter.
func (c *AvroConverter) Configure(cfg map[string]string, isKey bool) error {
	c.isKey = isKey
	url := strings.TrimSpace(cfg["schema.registry.url"])
	if url == "" {
		return configError("schema.registry.url", cfg["schema.registry.url"], "required by the avro converter (the schema registry's http://host:port)")
	}
	switch loc := strings.ToLower(strings.TrimSpace(cfg["schema.id.location"])); loc {
	case "", "property":
		c.idInPrefix = false
	case "prefix":
		c.idInPrefix = true
	default:
		return configError("schema.id.location", cfg["schema.id.location"], "must be property (the record id in a message property) or prefix (the Java converters' 8-byte body prefix)")
	}
	for key, dst := range map[string]*bool{"auto.register.schemas": &c.autoRegister, "use.latest.version": &c.useLatest} {
		if v, ok := cfg[key]; ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return configError(key, v, "not a boolean (true|false)")
			}
			*dst = b
		}
	}
	intSetting := func(key string, def, minimum int) (int, error) {
		v, ok := cfg[key]
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < minimum {
			return 0, configError(key, v, fmt.Sprintf("not an integer >= %d", minimum))
		}
		return n, nil
	}
	timeoutMs, err := intSetting("schema.registry.timeout.ms", 10000, 1)
	if err != nil {
		return err
	}
	retries, err := intSetting("schema.registry.max.retries", 3, 0)
	if err != nil {
		return err
	}
	totalMs, err := intSetting("schema.registry.total.timeout.ms", 30000, 1)
	if err != nil {
		return err
	}
	c.totalTimeout = time.Duration(totalMs) * time.Millisecond
	ttl, err := intSetting("latest.cache.ttl.sec", 60, -1)
	if err != nil {
		return err
	}
	if c.cacheSize, err = intSetting("schemas.cache.size", 1000, 1); err != nil {
		return err
	}
	c.latestTTL = time.Duration(ttl) * time.Second
	if ttl < 0 {
		c.latestTTL = -1
	}
	switch v := strings.TrimSpace(cfg["subject.name.strategy"]); v {
	case "", "topic-value":
		c.topicOnly = false
	case "topic":
		c.topicOnly = true
	default:
		return configError("subject.name.strategy", v, "must be topic-value or topic")
	}
	if c.compat, err = avro.ParseMode(cfg["schema.compatibility"]); err != nil {
		return configError("schema.compatibility", cfg["schema.compatibility"], err.Error())
	}
	if retries == 0 {
		retries = -1 // registry.Config: negative disables retries
	}
	client, err := registry.New(registry.Config{
		URL:        url,
		Cluster:    cfg["schema.registry.cluster"],
		Tenant:     cfg["schema.registry.tenant"],
		Timeout:    time.Duration(timeoutMs) * time.Millisecond,
		MaxRetries: retries,
		MaxElapsed: c.totalTimeout,
		CacheSize:  c.cacheSize,
		SameSchema: sameAvroSchema,
	})
	if err != nil {
		return configError("schema.registry.url", url, err.Error())
	}
	c.mu.Lock()
	c.client = client
	c.writers, c.byIDL, c.readers, c.latest = nil, nil, nil, nil
	c.mu.Unlock()
	return nil
}

// sameAvroSchema compares two IDLs as Avro schemas (their renderings), so formatting differences do not count.
func sameAvroSchema(a, b string) bool {
	if a == b {
		return true
	}
	x, err := avro.Parse(a)
	if err != nil {
		return false
	}
	y, err := avro.Parse(b)
	return err == nil && x.String() == y.String()
}

// subject returns the registry subject and schema name for topic.
func (c *AvroConverter) subject(topic string) (subject, name string) {
	name = topic + "-value"
	if c.isKey {
		name = topic + "-key"
	}
	if c.topicOnly {
		return topic, name
	}
	return name, name
}

// FromConnect encodes v: the record id of the schema derived from s (registered if need be), then the Avro datum.
// A nil schema with a nil value gives nil (a tombstone); a *schema.Struct given without a schema is written with
// its own schema; other schemaless values are refused (Avro needs a schema).
func (c *AvroConverter) FromConnect(topic string, s *schema.Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return nil, nil
	}
	if st, ok := v.(*schema.Struct); ok && s == nil && st != nil {
		s = st.Schema()
	}
	if s == nil {
		return nil, fmt.Errorf("avro converter: a value without a schema (%T) cannot be written as Avro: %w", v, ErrUnsupportedType)
	}
	if c.client == nil {
		return nil, configError("schema.registry.url", "", "converter used before Configure")
	}
	subject, name := c.subject(topic)
	b := registryBudget{limit: c.totalTimeout}
	defer b.end()
	w, err := c.writer(&b, subject, name, s)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, RecordIDSize, 256)
	copy(buf, w.id[:])
	out, err := w.codec.Encode(buf, v)
	if err != nil {
		return nil, fmt.Errorf("avro converter: subject %q: encode: %w", subject, err)
	}
	return out, nil
}

// registryBudget is the registry time one conversion may take (schema.registry.total.timeout.ms); the clock
// starts at its first registry call, so a conversion served from the caches costs no context.
type registryBudget struct {
	limit  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
}

func (b *registryBudget) context() context.Context {
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithTimeout(context.Background(), b.limit)
	}
	return b.ctx
}

func (b *registryBudget) end() {
	if b.cancel != nil {
		b.cancel()
	}
}

func (c *AvroConverter) writer(b *registryBudget, subject, name string, s *schema.Schema) (*writerEntry, error) {
	key := writerKey{subject, s}
	c.mu.Lock()
	w, ok := c.writers[key]
	c.mu.Unlock()
	if ok {
		current, err := c.current(b, subject, w)
		if err != nil {
			return nil, err
		}
		if current {
			return w, nil
		}
	}
	fail := func(err error) (*writerEntry, error) {
		return nil, fmt.Errorf("avro converter: subject %q: %w", subject, err)
	}
	derived, err := avro.FromConnect(s)
	if err != nil {
		return fail(err)
	}
	idlKey := subject + "\x00" + derived.String()
	c.mu.Lock()
	w, ok = c.byIDL[idlKey]
	c.mu.Unlock()
	if ok {
		current, err := c.current(b, subject, w)
		if err != nil {
			return nil, err
		}
		if current {
			// Same Avro schema, different *schema.Schema: the codec encodes values of s just as well.
			c.remember(key, idlKey, w)
			return w, nil
		}
	}
	var id int64
	codecSchema := derived
	switch {
	case c.autoRegister:
		reg, err := c.client.Ensure(b.context(), subject, name, registry.RegisterRequest{SchemaIDL: derived.String(), SchemaType: "AVRO", Compatibility: string(c.compat)})
		if err != nil {
			return fail(fmt.Errorf("register schema: %w", err))
		}
		id = reg.RecordID
	case c.useLatest:
		l, err := c.latestSchema(b, subject)
		if err != nil {
			return fail(err)
		}
		id, codecSchema = l.rec.RecordID, l.schema
	default:
		reg, err := c.client.Lookup(b.context(), subject, derived.String())
		if err != nil {
			return fail(fmt.Errorf("schema not registered and auto.register.schemas=false: %w", err))
		}
		id = reg.RecordID
	}
	codec, err := avro.NewCodec(codecSchema, s)
	if err != nil {
		return fail(err)
	}
	w = &writerEntry{recordID: id, codec: codec, latest: !c.autoRegister && c.useLatest}
	binary.BigEndian.PutUint64(w.id[:], uint64(id))
	c.remember(key, idlKey, w)
	return w, nil
}

// current reports whether cached writer w may still be used: always, unless it writes with the subject's latest
// schema and the latest, looked up again once latest.cache.ttl.sec has passed, is another version now.
func (c *AvroConverter) current(b *registryBudget, subject string, w *writerEntry) (bool, error) {
	if !w.latest {
		return true, nil
	}
	l, err := c.latestSchema(b, subject)
	if err != nil {
		return false, fmt.Errorf("avro converter: subject %q: %w", subject, err)
	}
	return l.rec.RecordID == w.recordID, nil
}

func (c *AvroConverter) remember(key writerKey, idlKey string, w *writerEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers == nil || len(c.writers) >= c.cacheSize {
		c.writers = map[writerKey]*writerEntry{}
	}
	if c.byIDL == nil || len(c.byIDL) >= c.cacheSize {
		c.byIDL = map[string]*writerEntry{}
	}
	c.writers[key] = w
	c.byIDL[idlKey] = w
}

// latestSchema returns the subject's latest schema, fetched at most once per latest.cache.ttl.sec.
func (c *AvroConverter) latestSchema(b *registryBudget, subject string) (latestEntry, error) {
	c.mu.Lock()
	l, ok := c.latest[subject]
	c.mu.Unlock()
	if ok && (c.latestTTL < 0 || time.Since(l.fetched) < c.latestTTL) {
		return l, nil
	}
	rec, err := c.client.Latest(b.context(), subject)
	if err != nil {
		return latestEntry{}, fmt.Errorf("latest schema: %w", err)
	}
	parsed, err := avro.Parse(rec.IDL)
	if err != nil {
		return latestEntry{}, fmt.Errorf("latest schema (record id %d): %w", rec.RecordID, err)
	}
	l = latestEntry{rec: rec, schema: parsed, fetched: time.Now()}
	c.mu.Lock()
	if c.latest == nil {
		c.latest = map[string]latestEntry{}
	}
	c.latest[subject] = l
	c.mu.Unlock()
	return l, nil
}

// ToConnect decodes a message: the record id prefix names the writer's schema, fetched from the registry (and
// cached); with use.latest.version the value is projected onto the subject's latest schema. nil or empty data
// is a tombstone. An unknown record id, or a writer schema the latest cannot read, gives an error naming the
// subject and the reason.
func (c *AvroConverter) ToConnect(topic string, data []byte) (*schema.Schema, any, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	subject, _ := c.subject(topic)
	if len(data) < RecordIDSize {
		return nil, nil, fmt.Errorf("avro converter: subject %q: %d bytes, shorter than the %d-byte record id: %w", subject, len(data), RecordIDSize, ErrMalformed)
	}
	if c.client == nil {
		return nil, nil, configError("schema.registry.url", "", "converter used before Configure")
	}
	id := int64(binary.BigEndian.Uint64(data))
	b := registryBudget{limit: c.totalTimeout}
	defer b.end()
	codec, err := c.reader(&b, subject, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := codec.Decode(data[RecordIDSize:])
	if err != nil {
		return nil, nil, fmt.Errorf("avro converter: subject %q: record id %d: decode: %w", subject, id, wrapMalformed(err))
	}
	return codec.ConnectSchema(), v, nil
}

func wrapMalformed(err error) error {
	if errors.Is(err, avro.ErrMalformed) {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return err
}

func (c *AvroConverter) reader(b *registryBudget, subject string, id int64) (*avro.Codec, error) {
	var latest latestEntry
	key := readerKey{subject: subject, writer: id}
	if c.useLatest {
		var err error
		if latest, err = c.latestSchema(b, subject); err != nil {
			return nil, fmt.Errorf("avro converter: subject %q: %w", subject, err)
		}
		key.readerID = latest.rec.RecordID
	}
	c.mu.Lock()
	codec, ok := c.readers[key]
	c.mu.Unlock()
	if ok {
		return codec, nil
	}
	rec, err := c.client.ByRecordID(b.context(), subject, id)
	if err != nil {
		return nil, fmt.Errorf("avro converter: subject %q: writer schema for record id %d: %w", subject, id, err)
	}
	writer, err := avro.Parse(rec.IDL)
	if err != nil {
		return nil, fmt.Errorf("avro converter: subject %q: writer schema for record id %d: %w", subject, id, err)
	}
	if c.useLatest {
		codec, err = avro.NewResolvingCodec(writer, latest.schema)
		if err != nil {
			return nil, fmt.Errorf("avro converter: subject %q: data written with record id %d (version %d) cannot be read with the latest schema (record id %d, version %d): %w",
				subject, id, rec.Version, latest.rec.RecordID, latest.rec.Version, err)
		}
	} else if codec, err = avro.NewCodec(writer, nil); err != nil {
		return nil, fmt.Errorf("avro converter: subject %q: writer schema for record id %d: %w", subject, id, err)
	}
	c.mu.Lock()
	if c.readers == nil || len(c.readers) >= c.cacheSize {
		c.readers = map[readerKey]*avro.Codec{}
	}
	c.readers[key] = codec
	c.mu.Unlock()
	return codec, nil
}

// RecordIDProperty names the message property that carries the Avro record id of a key or
// value when schema.id.location=property.
func RecordIDProperty(isKey bool) string {
	if isKey {
		return "connect.key.schema.id"
	}
	return "connect.value.schema.id"
}

// FromConnectProps implements PropertyConverter: with schema.id.location=property (the
// default) the body is the bare Avro datum and the record id goes in a property; with
// prefix it is FromConnect's output and no property.
func (c *AvroConverter) FromConnectProps(topic string, s *schema.Schema, v any) ([]byte, map[string]string, error) {
	data, err := c.FromConnect(topic, s, v)
	if err != nil || c.idInPrefix || len(data) < RecordIDSize {
		return data, nil, err
	}
	id := binary.BigEndian.Uint64(data)
	return data[RecordIDSize:], map[string]string{RecordIDProperty(c.isKey): strconv.FormatUint(id, 10)}, nil
}

// ToConnectProps implements PropertyConverter: a record id in the message's property wins;
// without one the body is read as prefixed (so both kinds of message decode).
func (c *AvroConverter) ToConnectProps(topic string, data []byte, props map[string]string) (*schema.Schema, any, error) {
	idStr, ok := props[RecordIDProperty(c.isKey)]
	if !ok {
		return c.ToConnect(topic, data)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(idStr), 10, 64)
	if err != nil {
		subject, _ := c.subject(topic)
		return nil, nil, fmt.Errorf("avro converter: subject %q: property %s=%q is not a record id: %w", subject, RecordIDProperty(c.isKey), idStr, ErrMalformed)
	}
	buf := make([]byte, RecordIDSize, RecordIDSize+len(data))
	binary.BigEndian.PutUint64(buf, id)
	return c.ToConnect(topic, append(buf, data...))
}
