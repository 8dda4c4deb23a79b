package schema

import (
	"maps"
	"time"
)

// Record is one unit of data moving through the runtime: produced by a SourceTask, consumed by a SinkTask,
// rewritten by transforms. Everything in it is plain data.
type Record struct {
	// SourcePartition and SourceOffset locate the record in the source system (source records only). Values are
	// JSON-like (string, int64, float64, bool, nil, and maps/slices of those) so positions can be stored.
	// Read the offset with Offset, which also knows LazyOffset.
	SourcePartition map[string]any
	SourceOffset    map[string]any
	// LazyOffset, used when SourceOffset is nil, supplies the offset on demand. A source that emits many
	// records per poll gives each a cheap value (say a pointer into a slice of positions) instead of a map,
	// and the engine builds the map only for the records whose position it stores: the last record of each
	// source partition in a delivered batch. It must be immutable once the record is returned by Poll, and
	// Offset must return a map the caller may keep (a new one, or one nobody modifies).
	LazyOffset OffsetSource
	// Topic is the RocketMQ topic the record goes to (source) or came from (sink).
	Topic string
	// OriginalTopic is, on a sink record, the topic it was read from, kept when a transform routes
	// it to another Topic (as Kafka Connect's SinkRecord.originalTopic): a sink that stores the
	// positions of the queues it reads keys them by it, with BrokerName and QueueID. Empty on
	// source records, and on the records an out-of-process plugin's sink task is given (the plugin
	// protocol does not carry it yet: such a task reads Topic).
	OriginalTopic string
	// QueueID is the RocketMQ queue, -1 when unknown or not yet assigned.
	QueueID int
	// QueueOffset is the offset in the queue (sink records); 0 for source records.
	QueueOffset int64
	// BrokerName is the broker of the queue, MsgID the message's ID (sink records).
	BrokerName  string
	MsgID       string
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	// Timestamp is the record time; the zero time means unknown.
	Timestamp time.Time
	Headers   Headers
	// Extensions are RocketMQ Connect's per-record string properties.
	Extensions map[string]string
}

// NewRecord returns a record for topic with the given key and value and QueueID -1.
func NewRecord(topic string, keySchema *Schema, key any, valueSchema *Schema, value any) *Record {
	return &Record{Topic: topic, QueueID: -1, KeySchema: keySchema, Key: key, ValueSchema: valueSchema, Value: value}
}

// Clone returns a deep copy: maps, headers, key and value (structs, slices, maps, bytes) are copied, so a
// transform may change the copy freely. Schemas and LazyOffset are shared, as they are immutable.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.SourcePartition = copyAnyMap(r.SourcePartition)
	c.SourceOffset = copyAnyMap(r.SourceOffset)
	c.Key = CopyValue(r.Key)
	c.Value = CopyValue(r.Value)
	c.Headers = r.Headers.Clone()
	if r.Extensions != nil {
		c.Extensions = maps.Clone(r.Extensions)
	}
	return &c
}

// OffsetSource supplies a source record's offset on demand (see Record.LazyOffset).
type OffsetSource interface {
	Offset() map[string]any
}

// Offset returns the record's source offset: SourceOffset, or, when that is nil, what LazyOffset supplies.
func (r *Record) Offset() map[string]any {
	if r.SourceOffset != nil || r.LazyOffset == nil {
		return r.SourceOffset
	}
	return r.LazyOffset.Offset()
}

// IsTombstone reports whether the record has a nil value.
func (r *Record) IsTombstone() bool { return r.Value == nil }

func copyAnyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return CopyValue(m).(map[string]any)
}

// Header is one record header: a key and a value with an optional schema.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Headers is an ordered list of headers; a key may repeat.
type Headers []Header

// Get returns the last header with key.
func (h Headers) Get(key string) (Header, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i], true
		}
	}
	return Header{}, false
}

// All returns every header with key, in order.
func (h Headers) All(key string) []Header {
	var out []Header
	for _, x := range h {
		if x.Key == key {
			out = append(out, x)
		}
	}
	return out
}

// Add appends a header.
func (h *Headers) Add(key string, s *Schema, v any) {
	*h = append(*h, Header{Key: key, Schema: s, Value: v})
}

// AddHeader appends a header.
func (h *Headers) AddHeader(x Header) { *h = append(*h, x) }

// Remove deletes every header with key.
func (h *Headers) Remove(key string) {
	out := (*h)[:0]
	for _, x := range *h {
		if x.Key != key {
			out = append(out, x)
		}
	}
	clear((*h)[len(out):])
	*h = out
}

// Clone returns a deep copy (values copied with CopyValue; schemas shared).
func (h Headers) Clone() Headers {
	if h == nil {
		return nil
	}
	c := make(Headers, len(h))
	for i, x := range h {
		c[i] = Header{Key: x.Key, Schema: x.Schema, Value: CopyValue(x.Value)}
	}
	return c
}
