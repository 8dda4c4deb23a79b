package rmqclient

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Batch is messages of one topic already encoded in RocketMQ's batch format, ready to be
// sent as one request by Producer.SendBatch. Encoding a batch apart from sending it lets a
// caller prepare the next batch while the previous one is on the wire; the encoding itself
// writes every message straight into one buffer (the client library builds a property map
// and two buffers per message). Sending does not change a Batch, so it may be sent again.
type Batch struct {
	topic string
	body  []byte
	n     int
	queue int // hash of the first message's sharding key, or its queue hint - 1; -1 for round robin
	// single is the message of a batch of one, which SendBatch sends as a plain message
	// as Send does (a client-side message ID, compression of large bodies);
	// nil for a lone message with an empty body, which the broker takes only inside a batch.
	single *Message
}

// Len returns the number of messages in the batch.
func (b *Batch) Len() int { return b.n }

// Topic returns the batch's topic.
func (b *Batch) Topic() string { return b.topic }

// Property names set from Message's fields (the client library's), and wire limits.
const (
	propKeys        = primitive.PropertyKeys
	propTags        = primitive.PropertyTags
	propShardingKey = primitive.PropertyShardingKey
	keySeparator    = primitive.PropertyKeySeparator
	maxPropsLen     = math.MaxInt16 // the wire format's 2-byte length; the broker rejects more
	fixedMsgLen     = 4 + 4 + 4 + 4 + 4 + 2
)

// MaxMessageBytes is the largest message the broker takes by default (its maxMessageSize,
// 4 MiB): the body plus the encoded properties and framing. A larger message is refused by
// the broker on every try, so it is refused here first (ErrTooLarge).
const MaxMessageBytes = 4 << 20

// BatchBuilder collects messages for one Batch. Add checks each message as it comes, so a
// message the broker could not take is refused alone; Finish encodes them all at once into
// a buffer of the exact size. Consecutive messages that share one Properties map (as a
// source task's often do) have it encoded once. The zero value is ready to use.
type BatchBuilder struct {
	entries []entry
	size    int

	// The encoding of the last Properties map seen.
	lastProps map[string]string
	lastEnc   []byte
}

type entry struct {
	m     *Message
	props []byte // m's user properties, encoded (possibly shared with other entries)
}

// Add appends m, or returns an error wrapping ErrInvalid and leaves the builder as it was
// when m has no topic or another topic than the messages before it, or when its
// properties contain the separators \x01 or \x02, exceed 32,767 encoded bytes or have a
// name RocketMQ reserves (IsSystemProperty); or one wrapping ErrTooLarge when m alone
// takes more than MaxMessageBytes encoded. Like the client library, it skips properties
// with an empty name or value. m must not change until Finish; a Properties map that the
// message added before also had is taken as unchanged (it is encoded once), so do not
// change a map between the Adds sharing it.
func (b *BatchBuilder) Add(m *Message) error {
	if m == nil || m.Topic == "" {
		return fmt.Errorf("%w: message without topic", ErrInvalid)
	}
	if len(b.entries) > 0 && m.Topic != b.entries[0].m.Topic {
		return fmt.Errorf("%w: a batch must share one topic (%s, %s)", ErrInvalid, b.entries[0].m.Topic, m.Topic)
	}
	n, err := fieldPropsLen(m)
	if err != nil {
		return err
	}
	up, err := b.userProps(m)
	if err != nil {
		return err
	}
	if n += len(up); n > maxPropsLen {
		return fmt.Errorf("%w: properties take %d bytes encoded, more than RocketMQ's %d", ErrInvalid, n, maxPropsLen)
	}
	if size := fixedMsgLen + len(m.Body) + n; size > MaxMessageBytes {
		return fmt.Errorf("%w: the message takes %d bytes encoded (body %d), more than the broker's %d (maxMessageSize)",
			ErrTooLarge, size, len(m.Body), MaxMessageBytes)
	}
	b.entries = append(b.entries, entry{m: m, props: up})
	b.size += fixedMsgLen + len(m.Body) + n
	return nil
}

// userProps returns the encoding of m's user properties, reusing the last one when m
// shares the last message's map.
func (b *BatchBuilder) userProps(m *Message) ([]byte, error) {
	if len(m.Properties) == 0 {
		return nil, nil
	}
	if b.lastEnc != nil && reflect.ValueOf(m.Properties).UnsafePointer() == reflect.ValueOf(b.lastProps).UnsafePointer() {
		return b.lastEnc, nil
	}
	var enc []byte
	for k, v := range m.Properties {
		if IsSystemProperty(k) {
			return nil, errSystemProperty(k)
		}
		if k == "" || v == "" {
			continue
		}
		if hasSeparator(k) || hasSeparator(v) {
			return nil, fmt.Errorf("%w: property %q contains the separators \\x01 or \\x02", ErrInvalid, k)
		}
		enc = appendProp(enc, k, v)
		if len(enc) > maxPropsLen {
			return nil, fmt.Errorf("%w: properties take more than RocketMQ's %d bytes encoded", ErrInvalid, maxPropsLen)
		}
	}
	if enc == nil {
		enc = []byte{}
	}
	b.lastProps, b.lastEnc = m.Properties, enc
	return enc, nil
}

// Len returns the number of messages added since the last Finish.
func (b *BatchBuilder) Len() int { return len(b.entries) }

// Size returns the encoded size of the messages added so far: the request body Finish
// makes, which the broker takes up to its maxMessageSize (4 MiB by default).
func (b *BatchBuilder) Size() int { return b.size }

// Finish encodes the added messages and empties the builder; it returns nil when there
// are none.
func (b *BatchBuilder) Finish() *Batch {
	if len(b.entries) == 0 {
		return nil
	}
	first := b.entries[0].m
	out := &Batch{topic: first.Topic, n: len(b.entries), queue: -1, body: make([]byte, 0, b.size)}
	for _, e := range b.entries {
		out.body = appendMessage(out.body, e.m, e.props)
	}
	if k := first.ShardingKey; k != "" {
		out.queue = keyHash(k)
	} else if first.QueueHint > 0 {
		out.queue = first.QueueHint - 1
	}
	if out.n == 1 && len(first.Body) > 0 {
		out.single = first
	}
	clear(b.entries)
	b.entries, b.size = b.entries[:0], 0
	b.lastProps, b.lastEnc = nil, nil // let the map go with the messages
	return out
}

// NewBatch encodes msgs (at least one, all of one topic) as a Batch; see BatchBuilder.Add
// for what is refused.
func NewBatch(msgs ...*Message) (*Batch, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: nothing to send", ErrInvalid)
	}
	var b BatchBuilder
	for _, m := range msgs {
		if err := b.Add(m); err != nil {
			return nil, err
		}
	}
	return b.Finish(), nil
}

// hasKeys reports whether m's keys make a KEYS property: not when there are none or one
// empty key (the client library skips empty properties).
func hasKeys(m *Message) bool { return len(m.Keys) > 1 || len(m.Keys) == 1 && m.Keys[0] != "" }

// hasSeparator reports whether s contains \x01 or \x02, which the wire format uses.
func hasSeparator(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 1 || c == 2 {
			return true
		}
	}
	return false
}

// fieldPropsLen returns the encoded length of the properties made from m's Keys, Tag and
// ShardingKey, checking them.
func fieldPropsLen(m *Message) (int, error) {
	n := 0
	if hasKeys(m) {
		n += len(propKeys) + 2 + len(keySeparator)*(len(m.Keys)-1)
		for _, k := range m.Keys {
			if hasSeparator(k) {
				return 0, fmt.Errorf("%w: key %q contains the separators \\x01 or \\x02", ErrInvalid, k)
			}
			n += len(k)
		}
	}
	if m.Tag != "" {
		if hasSeparator(m.Tag) {
			return 0, fmt.Errorf("%w: tag %q contains the separators \\x01 or \\x02", ErrInvalid, m.Tag)
		}
		n += len(propTags) + len(m.Tag) + 2
	}
	if m.ShardingKey != "" {
		if hasSeparator(m.ShardingKey) {
			return 0, fmt.Errorf("%w: sharding key %q contains the separators \\x01 or \\x02", ErrInvalid, m.ShardingKey)
		}
		n += len(propShardingKey) + len(m.ShardingKey) + 2
	}
	return n, nil
}

func appendProp(buf []byte, k, v string) []byte {
	buf = append(buf, k...)
	buf = append(buf, 1)
	buf = append(buf, v...)
	return append(buf, 2)
}

// appendMessage appends m in the layout of one message of a batch body (RocketMQ's
// MessageDecoder.encodeMessage): total size, magic code 0, body CRC 0, flag 0, body
// length, body, properties length (2 bytes), properties as name\x01value\x02 pairs:
// userProps (already encoded), then those of m's fields.
func appendMessage(buf []byte, m *Message, userProps []byte) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0) // total size, filled in below
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(m.Body)))
	buf = append(buf, m.Body...)
	propsAt := len(buf)
	buf = append(buf, 0, 0) // properties length, filled in below
	buf = append(buf, userProps...)
	if hasKeys(m) {
		buf = append(buf, propKeys...)
		buf = append(buf, 1)
		for i, k := range m.Keys {
			if i > 0 {
				buf = append(buf, keySeparator...)
			}
			buf = append(buf, k...)
		}
		buf = append(buf, 2)
	}
	if m.Tag != "" {
		buf = appendProp(buf, propTags, m.Tag)
	}
	if m.ShardingKey != "" {
		buf = appendProp(buf, propShardingKey, m.ShardingKey)
	}
	binary.BigEndian.PutUint16(buf[propsAt:], uint16(len(buf)-propsAt-2))
	binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start))
	return buf
}

// keyHash is the queue hint of a sharding key (see toPrimitive and keySelector).
func keyHash(k string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	return int(h.Sum32() & 0x7fffffff)
}

// SendBatch sends b as one request: the broker stores its messages on one queue, in order.
// A batch of one message goes as a plain message, exactly as Send sends it. Errors are
// those of Send.
func (p *Producer) SendBatch(ctx context.Context, b *Batch) (SendResult, error) {
	if b == nil || b.n == 0 {
		return SendResult{}, fmt.Errorf("%w: nothing to send", ErrInvalid)
	}
	if b.single != nil {
		return p.Send(ctx, b.single)
	}
	pm := &primitive.Message{Topic: b.topic, Body: b.body, Batch: true}
	if b.queue >= 0 {
		pm.Queue = &primitive.MessageQueue{Topic: b.topic, QueueId: b.queue}
	}
	return p.send(ctx, b.topic, pm)
}
