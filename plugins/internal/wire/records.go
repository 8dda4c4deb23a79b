package wire

import (
	"fmt"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

// EncodeBatch encodes records with the schemas they use, in the compact form of codec.go.
func EncodeBatch(recs []*schema.Record) (*pb.Batch, error) { return AppendBatch(nil, recs) }

// AppendBatch is EncodeBatch writing the records into the storage of buf (from buf[:0]), so a
// caller that sends one batch at a time reuses one buffer; the batch holds buf until it is
// sent. A buf too small is replaced by one of the batch's estimated size.
func AppendBatch(buf []byte, recs []*schema.Record) (*pb.Batch, error) {
	if n := sizeHint(recs); cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	e := &batchEncoder{buf: buf[:0]}
	for i, r := range recs {
		if err := e.record(r); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return &pb.Batch{Schemas: e.Schemas(), Count: uint32(len(recs)), Records: e.buf}, nil
}

// sizeHint estimates the encoded size of recs from their byte and string keys and values,
// so that encoding seldom grows its buffer.
func sizeHint(recs []*schema.Record) int {
	n := 0
	for _, r := range recs {
		if r == nil {
			continue // refused by the encoder, with the record's index
		}
		n += 48 + len(r.Topic) + len(r.BrokerName) + len(r.MsgID) + flatSize(r.Key) + flatSize(r.Value)
		for _, h := range r.Headers {
			n += 4 + len(h.Key) + flatSize(h.Value)
		}
	}
	return n
}

func flatSize(v any) int {
	switch x := v.(type) {
	case []byte:
		return 4 + len(x)
	case string:
		return 4 + len(x)
	}
	return 16
}

// minRecordBytes is the size of the smallest encoded record (every field absent or empty, one
// byte each): the records of a batch are allocated before they are read, so a count the
// bytes cannot hold is refused rather than allocated for.
const minRecordBytes = 14

// DecodeBatch decodes the records of a batch. Byte values and the strings of the records
// (message ids, string keys, values and headers) share the message's buffer, so b.Records
// must not be written or reused once this is called (it is the caller's own copy, made by
// proto.Unmarshal): a batch costs no allocation or copy per string. A byte value is capped at
// its length, so a task that writes into or appends to one changes no string. Source
// partitions and offsets, which the engine keeps longer than the records, hold strings of
// their own.
func DecodeBatch(b *pb.Batch) ([]*schema.Record, error) {
	if b == nil || b.Count == 0 {
		return nil, nil
	}
	if uint64(b.Count) > uint64(len(b.Records)/minRecordBytes) {
		return nil, fmt.Errorf("%w: %d records in %d bytes", ErrBadMessage, b.Count, len(b.Records))
	}
	d := &batchDecoder{Decoder: NewDecoder(b.Schemas), buf: b.Records, shared: true}
	n := int(min(b.Count, box.Block))
	d.strs.Size(n)
	d.bytes.Size(n)
	d.times.Size(n)
	out := make([]*schema.Record, b.Count)
	slab := make([]schema.Record, b.Count) // one allocation for the batch's records
	for i := range out {
		r := &slab[i]
		d.left = len(out) - i
		err := d.record(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = r
	}
	if len(d.buf) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last record", ErrBadMessage, len(d.buf))
	}
	return out, nil
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
