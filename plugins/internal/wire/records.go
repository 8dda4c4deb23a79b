package wire

import (
	"fmt"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

// EncodeBatch encodes records with the schemas they use.
func EncodeBatch(recs []*schema.Record) (*pb.Batch, error) {
	var e Encoder
	out := make([]*pb.Record, len(recs))
	for i, r := range recs {
		m, err := e.Record(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = m
	}
	return &pb.Batch{Schemas: e.Schemas(), Records: out}, nil
}

// DecodeBatch decodes the records of a batch.
func DecodeBatch(b *pb.Batch) ([]*schema.Record, error) {
	if b == nil || len(b.Records) == 0 {
		return nil, nil
	}
	d := NewDecoder(b.Schemas)
	out := make([]*schema.Record, len(b.Records))
	for i, m := range b.Records {
		r, err := d.Record(m)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

// Record encodes one record; a nil record is refused.
func (e *Encoder) Record(r *schema.Record) (*pb.Record, error) {
	if r == nil {
		return nil, fmt.Errorf("nil record")
	}
	m := &pb.Record{Topic: r.Topic, QueueId: int32(r.QueueID), QueueOffset: r.QueueOffset, BrokerName: r.BrokerName,
		MsgId: r.MsgID, Extensions: r.Extensions}
	var err error
	if r.SourcePartition != nil {
		if m.SourcePartition, err = e.Value(r.SourcePartition); err != nil {
			return nil, fmt.Errorf("source partition: %w", err)
		}
	}
	if r.SourceOffset != nil {
		if m.SourceOffset, err = e.Value(r.SourceOffset); err != nil {
			return nil, fmt.Errorf("source offset: %w", err)
		}
	}
	if m.KeySchema, err = e.SchemaRef(r.KeySchema); err != nil {
		return nil, err
	}
	if m.Key, err = e.Value(r.Key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if m.ValueSchema, err = e.SchemaRef(r.ValueSchema); err != nil {
		return nil, err
	}
	if m.Value, err = e.Value(r.Value); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	if !r.Timestamp.IsZero() {
		m.Timestamp = timeValue(r.Timestamp)
	}
	for _, h := range r.Headers {
		hm := &pb.Header{Key: h.Key}
		if hm.Schema, err = e.SchemaRef(h.Schema); err != nil {
			return nil, err
		}
		if hm.Value, err = e.Value(h.Value); err != nil {
			return nil, fmt.Errorf("header %s: %w", h.Key, err)
		}
		m.Headers = append(m.Headers, hm)
	}
	return m, nil
}

// Record decodes one record.
func (d *Decoder) Record(m *pb.Record) (*schema.Record, error) {
	r := &schema.Record{Topic: m.Topic, QueueID: int(m.QueueId), QueueOffset: m.QueueOffset, BrokerName: m.BrokerName,
		MsgID: m.MsgId}
	if len(m.Extensions) > 0 {
		r.Extensions = m.Extensions
	}
	var err error
	if r.SourcePartition, err = d.object(m.SourcePartition); err != nil {
		return nil, fmt.Errorf("source partition: %w", err)
	}
	if r.SourceOffset, err = d.object(m.SourceOffset); err != nil {
		return nil, fmt.Errorf("source offset: %w", err)
	}
	if r.KeySchema, err = d.Schema(m.KeySchema); err != nil {
		return nil, err
	}
	if r.Key, err = d.Value(m.Key); err != nil {
		return nil, err
	}
	if r.ValueSchema, err = d.Schema(m.ValueSchema); err != nil {
		return nil, err
	}
	if r.Value, err = d.Value(m.Value); err != nil {
		return nil, err
	}
	if m.Timestamp != nil {
		r.Timestamp = fromTimeValue(m.Timestamp)
	}
	for _, hm := range m.Headers {
		h := schema.Header{Key: hm.Key}
		if h.Schema, err = d.Schema(hm.Schema); err != nil {
			return nil, err
		}
		if h.Value, err = d.Value(hm.Value); err != nil {
			return nil, err
		}
		r.Headers = append(r.Headers, h)
	}
	return r, nil
}

func (d *Decoder) object(v *pb.Value) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	x, err := d.Value(v)
	if err != nil || x == nil {
		return nil, err
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %T where an object was expected", ErrBadMessage, x)
	}
	return m, nil
}

// Object encodes a schemaless object (a source partition or offset); nil stays nil.
func Object(m map[string]any) (*pb.Value, error) {
	if m == nil {
		return nil, nil
	}
	var e Encoder
	return e.Value(m)
}

// DecodeObject decodes what Object encoded.
func DecodeObject(v *pb.Value) (map[string]any, error) { return NewDecoder(nil).object(v) }

// Queues and offsets.

// QueueMsg encodes a queue.
func QueueMsg(q plugins.Queue) *pb.Queue {
	return &pb.Queue{Topic: q.Topic, BrokerName: q.BrokerName, QueueId: int32(q.QueueID)}
}

// FromQueueMsg decodes a queue.
func FromQueueMsg(q *pb.Queue) plugins.Queue {
	if q == nil {
		return plugins.Queue{}
	}
	return plugins.Queue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: int(q.QueueId)}
}

// QueuesMsg encodes queues.
func QueuesMsg(qs []plugins.Queue) []*pb.Queue {
	out := make([]*pb.Queue, len(qs))
	for i, q := range qs {
		out[i] = QueueMsg(q)
	}
	return out
}

// FromQueuesMsg decodes queues.
func FromQueuesMsg(qs []*pb.Queue) []plugins.Queue {
	out := make([]plugins.Queue, len(qs))
	for i, q := range qs {
		out[i] = FromQueueMsg(q)
	}
	return out
}

// OffsetsMsg encodes per-queue offsets.
func OffsetsMsg(m map[plugins.Queue]int64) []*pb.QueueOffset {
	out := make([]*pb.QueueOffset, 0, len(m))
	for q, off := range m {
		out = append(out, &pb.QueueOffset{Queue: QueueMsg(q), Offset: off})
	}
	return out
}

// FromOffsetsMsg decodes per-queue offsets (never nil).
func FromOffsetsMsg(l []*pb.QueueOffset) map[plugins.Queue]int64 {
	out := make(map[plugins.Queue]int64, len(l))
	for _, qo := range l {
		out[FromQueueMsg(qo.Queue)] = qo.Offset
	}
	return out
}

// MetadataMsg encodes where a record was stored; nil gives present=false.
func MetadataMsg(md *plugins.RecordMetadata) *pb.RecordMetadata {
	if md == nil {
		return &pb.RecordMetadata{}
	}
	m := &pb.RecordMetadata{Present: true, Topic: md.Topic, BrokerName: md.BrokerName, QueueId: int32(md.QueueID),
		QueueOffset: md.QueueOffset, MsgId: md.MsgID}
	if !md.Timestamp.IsZero() {
		m.Timestamp = timeValue(md.Timestamp)
	}
	return m
}

// FromMetadataMsg decodes what MetadataMsg encoded.
func FromMetadataMsg(m *pb.RecordMetadata) *plugins.RecordMetadata {
	if m == nil || !m.Present {
		return nil
	}
	md := &plugins.RecordMetadata{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: int(m.QueueId),
		QueueOffset: m.QueueOffset, MsgID: m.MsgId}
	if m.Timestamp != nil {
		md.Timestamp = fromTimeValue(m.Timestamp)
	}
	return md
}

// Millis converts a duration to protocol milliseconds.
func Millis(d time.Duration) int64 { return d.Milliseconds() }
