package worker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Message properties the worker itself writes and reads.
const (
	PropTimestamp = "connect.timestamp"
	// PropKeyBase64 carries a key that RocketMQ's space-separated KEYS cannot hold exactly
	// (binary, or containing whitespace).
	PropKeyBase64 = "connect.key.b64"
	// PropKeyEmpty = "true" marks an empty (not null) key: its base64 would be the empty string,
	// and RocketMQ drops a property whose value is empty, so the key would come back null.
	PropKeyEmpty = "connect.key.empty"
	// PropHeaderEscape prefixes the property that carries a record header whose name RocketMQ
	// reserves (rmqclient.IsSystemProperty: DELAY, TRAN_MSG, UNIQ_KEY, TIMER_DELIVER_MS, ...):
	// under its own name the broker would act on it (delay the message, store it as a
	// transaction's half message that is never delivered, replace its id) and a consumer would
	// not see it as a header. A sink gets the header back under its own name.
	PropHeaderEscape = "connect.h."
)

// Record headers that set a message's tag and keys (the replicator carries a source
// message's keys and tag in them): TAGS is the message's tag, and KEYS its keys
// (space-separated) when the record has no key; with a key, a KEYS header travels escaped
// like the other reserved names.
const (
	headerKeys = "KEYS"
	headerTags = "TAGS"
)

// headerProperty returns the property name that carries the record header name.
func headerProperty(name string) string {
	if rmqclient.IsSystemProperty(name) {
		return PropHeaderEscape + name
	}
	return name
}

// propertyHeader returns the record header name a property carries (see headerProperty).
func propertyHeader(prop string) string {
	if name, ok := strings.CutPrefix(prop, PropHeaderEscape); ok && rmqclient.IsSystemProperty(name) {
		return name
	}
	return prop
}

// taskCounters are a task's running totals (exported as metrics by the admin issue).
type taskCounters struct {
	recordsPolled  atomic.Int64
	recordsWritten atomic.Int64
	recordsRead    atomic.Int64
	recordsPut     atomic.Int64
	recordErrors   atomic.Int64
	recordsSkipped atomic.Int64
	recordsLost    atomic.Int64 // a sink's messages deleted by the broker before it read them
	dlqRecords     atomic.Int64
	commits        atomic.Int64
	commitFailures atomic.Int64
	retries        atomic.Int64
	dlqFailures    atomic.Int64
	// lag reports a sink task's unconsumed messages; nil for sources.
	lag atomic.Pointer[func() int64]
	// queueLag reports a sink task's lag per queue (records, seconds); nil for sources.
	queueLag atomic.Pointer[func() []queueLag]
}

// countRetries wraps a retriable predicate so every retry is counted.
func (c *taskCounters) countRetries(retriable func(error) bool) func(error) bool {
	return func(err error) bool {
		if retriable(err) {
			c.retries.Add(1)
			return true
		}
		return false
	}
}

// keyProps returns how a key's bytes travel: as KEYS when it is a plain token (plain), as
// PropKeyEmpty when it is empty, else base64 in PropKeyBase64. orig is the record's key before
// conversion: when it is a string with the same bytes, it is used instead of a copy of key.
func keyProps(key []byte, orig any) (plain string, props map[string]string) {
	if key == nil {
		return "", nil
	}
	if len(key) == 0 {
		return "", map[string]string{PropKeyEmpty: "true"}
	}
	s, same := orig.(string)
	if !same || s != string(key) {
		s = string(key)
	}
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f
	}) {
		return s, nil
	}
	return "", map[string]string{PropKeyBase64: base64.StdEncoding.EncodeToString(key)}
}

// messageKey recovers a key's bytes from a received message: nil when it had no key.
func messageKey(m *rmqclient.ReceivedMessage) ([]byte, error) {
	if b64, ok := m.Properties[PropKeyBase64]; ok {
		return base64.StdEncoding.DecodeString(b64)
	}
	if m.Properties[PropKeyEmpty] == "true" {
		return []byte{}, nil
	}
	if len(m.Keys) == 0 {
		return nil, nil
	}
	return []byte(strings.Join(m.Keys, " ")), nil
}

// headerJSON renders structured header values (structs, and maps and arrays with a schema) as schemaless
// JSON, as Kafka's SimpleHeaderConverter does; encoding/json would render a struct as "{}".
var headerJSON = func() *converter.JSONConverter {
	c := converter.NewJSONConverter()
	if err := c.Configure(map[string]string{"schemas.enable": "false", "decimal.format": "NUMERIC"}, false); err != nil {
		panic(err) // constant settings
	}
	return c
}()

// headerString renders a header value (of schema s, which may be nil) as a property value.
func headerString(s *schema.Schema, v any) (string, error) {
	switch x := v.(type) {
	case *schema.Struct:
		if x == nil {
			return "", nil
		}
		b, err := headerJSON.FromConnect("", x.Schema(), x)
		return string(b), err
	case schema.Decimal:
		return x.String(), nil
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case bool, int8, int16, int32, int64, int, float32, float64:
		return fmt.Sprint(x), nil
	case time.Time:
		return strconv.FormatInt(x.UnixMilli(), 10), nil
	default:
		if s != nil && (s.Type == schema.Map || s.Type == schema.Array) {
			b, err := headerJSON.FromConnect("", s, v)
			return string(b), err
		}
		b, err := json.Marshal(x)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}

// headerText returns header h as a message carries it: its value as text (headerString), ok
// false when RocketMQ would drop it (an empty key or value), an error when it has no text or
// holds a character a property cannot carry.
func headerText(h schema.Header) (string, bool, error) {
	s, err := headerString(h.Schema, h.Value)
	if err != nil {
		return "", false, fmt.Errorf("header %s: %w", h.Key, err)
	}
	if h.Key == "" || s == "" {
		return "", false, nil
	}
	if strings.ContainsAny(h.Key+s, "\x01\x02") {
		return "", false, fmt.Errorf("header %s contains the control characters \\x01 or \\x02, which RocketMQ properties cannot carry", h.Key)
	}
	return s, true, nil
}

// converters are a task's key and value converters.
type converters struct {
	key, value converter.Converter
}

// stampCache holds what consecutive messages of a source task share: the timestamp property
// of the last millisecond seen, the properties map of a message that carries nothing but
// that timestamp, and arrays the messages and their key slices are cut from (two
// allocations per slabSize messages instead of two per message). It belongs to one goroutine.
type stampCache struct {
	ms    int64
	stamp string
	plain map[string]string // {PropTimestamp: stamp}, shared by messages and never written again
	msgs  []rmqclient.Message
	keys  []string
}

const slabSize = 256

// release drops the slabs' remainders: a slab is kept only until the messages cut from it
// are encoded, or it would keep their bodies alive for as long as it lasts.
func (c *stampCache) release() { c.msgs, c.keys = nil, nil }

// message returns a zero Message of its own.
func (c *stampCache) message() *rmqclient.Message {
	if len(c.msgs) == 0 {
		c.msgs = make([]rmqclient.Message, slabSize)
	}
	m := &c.msgs[0]
	c.msgs = c.msgs[1:]
	return m
}

// oneKey returns []string{k} whose array is not shared with another message's.
func (c *stampCache) oneKey(k string) []string {
	if len(c.keys) == 0 {
		c.keys = make([]string, slabSize)
	}
	out := c.keys[:1:1]
	out[0] = k
	c.keys = c.keys[1:]
	return out
}

func (c *stampCache) at(ms int64) string {
	if c.stamp == "" || ms != c.ms {
		c.ms, c.stamp, c.plain = ms, strconv.FormatInt(ms, 10), nil
	}
	return c.stamp
}

// toMessage turns a transformed source record into a message. The stage of a failure is
// returned with the error. Messages that carry no property but the timestamp share one
// Properties map per millisecond (from sc): it must not be written to.
func (c converters) toMessage(r *schema.Record, topic string, sc *stampCache) (*rmqclient.Message, string, error) {
	var keyBytes []byte
	var keyConvProps map[string]string
	if r.Key != nil || r.KeySchema != nil {
		kb, props, err := fromConnect(c.key, topic, r.KeySchema, r.Key)
		if err != nil {
			return nil, StageKeyConv, err
		}
		keyBytes, keyConvProps = kb, props
	}
	body, valueConvProps, err := fromConnect(c.value, topic, r.ValueSchema, r.Value)
	if err != nil {
		return nil, StageValueConv, err
	}
	m := sc.message()
	m.Topic, m.Body = topic, body
	key, kp := keyProps(keyBytes, r.Key)
	if key != "" {
		m.Keys = sc.oneKey(key)
	}
	ts := r.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	stamp := sc.at(ts.UnixMilli())
	if len(keyConvProps) == 0 && len(valueConvProps) == 0 && len(kp) == 0 && len(r.Headers) == 0 {
		if sc.plain == nil {
			sc.plain = map[string]string{PropTimestamp: stamp}
		}
		m.Properties = sc.plain
	} else {
		m.Properties = make(map[string]string, len(keyConvProps)+len(valueConvProps)+len(kp)+1+len(r.Headers))
		maps.Copy(m.Properties, keyConvProps)
		maps.Copy(m.Properties, valueConvProps)
		maps.Copy(m.Properties, kp)
		m.Properties[PropTimestamp] = stamp
		for _, h := range r.Headers {
			s, ok, err := headerText(h)
			if err != nil {
				return nil, StageHeader, err
			}
			if !ok {
				continue
			}
			switch {
			case h.Key == headerTags:
				m.Tag = s
			case h.Key == headerKeys && keyBytes == nil:
				m.Keys = sc.oneKey(s)
			default:
				m.Properties[headerProperty(h.Key)] = s
			}
		}
	}
	if key != "" {
		m.ShardingKey = key
	} else if b64, ok := kp[PropKeyBase64]; ok {
		m.ShardingKey = b64
	}
	return m, "", nil
}

// fromConnect uses a converter's property ability when it has one.
func fromConnect(c converter.Converter, topic string, s *schema.Schema, v any) ([]byte, map[string]string, error) {
	if pc, ok := c.(converter.PropertyConverter); ok {
		return pc.FromConnectProps(topic, s, v)
	}
	b, err := c.FromConnect(topic, s, v)
	return b, nil, err
}

func toConnect(c converter.Converter, topic string, data []byte, props map[string]string) (*schema.Schema, any, error) {
	if pc, ok := c.(converter.PropertyConverter); ok {
		return pc.ToConnectProps(topic, data, props)
	}
	return c.ToConnect(topic, data)
}

// fromMessage turns a consumed message into a sink record (before transforms), written into
// into when it is not nil (the sink cuts a batch's records from one array).
func (c converters) fromMessage(m *rmqclient.ReceivedMessage, into *schema.Record) (*schema.Record, string, error) {
	r := into
	if r == nil {
		r = new(schema.Record)
	}
	*r = schema.Record{Topic: m.Queue.Topic, OriginalTopic: m.Queue.Topic, QueueID: m.Queue.QueueID, QueueOffset: m.Offset,
		BrokerName: m.Queue.BrokerName, MsgID: m.MsgID}
	kb, err := messageKey(m)
	if err != nil {
		return nil, StageKeyConv, fmt.Errorf("key property: %w", err)
	}
	if kb != nil {
		r.KeySchema, r.Key, err = toConnect(c.key, r.Topic, kb, m.Properties)
		if err != nil {
			return nil, StageKeyConv, err
		}
	}
	r.ValueSchema, r.Value, err = toConnect(c.value, r.Topic, m.Body, m.Properties)
	if err != nil {
		return nil, StageValueConv, err
	}
	r.Timestamp = m.BornTime
	if ts, ok := m.Properties[PropTimestamp]; ok {
		if ms, err := strconv.ParseInt(ts, 10, 64); err == nil {
			r.Timestamp = time.UnixMilli(ms)
		}
	}
	for k, v := range m.Properties {
		if k == PropTimestamp || k == PropKeyBase64 || k == PropKeyEmpty || (strings.HasPrefix(k, "connect.") && strings.HasSuffix(k, ".schema.id")) {
			continue // the worker's and converters' own metadata, not record headers
		}
		r.Headers = append(r.Headers, schema.Header{Key: propertyHeader(k), Schema: schema.OptionalStringSchema, Value: v})
	}
	slices.SortStableFunc(r.Headers, func(a, b schema.Header) int { return strings.Compare(a.Key, b.Key) })
	return r, "", nil
}

// preview renders a record value for error logs (errors.log.include.messages).
func preview(v any) string {
	s := fmt.Sprint(v)
	if b, ok := v.([]byte); ok {
		s = string(b)
	}
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return s
}
