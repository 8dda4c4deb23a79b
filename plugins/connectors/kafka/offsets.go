package kafka

import (
	"encoding/base64"
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

// topicIDString is a Kafka topic id as Kafka prints it (kafka-topics.sh --describe): its 16 bytes in
// unpadded URL-safe base64. The zero id, which a cluster without topic ids gives, is "".
func topicIDString(id [16]byte) string {
	if id == [16]byte{} {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// sameTopic reports whether a position or start offset recorded for topic id stored applies to the topic
// whose id is now current. An empty id is unknown (a position stored by an earlier version, a cluster
// without topic ids) and matches any.
func sameTopic(stored, current string) bool {
	return stored == "" || current == "" || stored == current
}

// sourceOffset is the source offset of the record at offset of the topic with id topicID.
func sourceOffset(offset int64, topicID string) map[string]any {
	if topicID == "" {
		return map[string]any{OffsetKey: offset}
	}
	return map[string]any{OffsetKey: offset, TopicIDKey: topicID}
}

// storedOffset reads a committed source offset: the offset of the last record RocketMQ acknowledged and
// the id of the topic it was read from, "" in an offset stored without one. ok is false when off is nil
// (nothing committed); an offset that does not decode gives an error wrapping position.ErrBadPosition.
func storedOffset(off map[string]any) (offset int64, topicID string, ok bool, err error) {
	if offset, ok, err = position.Int64(off, OffsetKey); err != nil || !ok {
		return 0, "", false, err
	}
	switch v := off[TopicIDKey].(type) {
	case nil:
	case string:
		topicID = v
	default:
		return 0, "", false, fmt.Errorf("%w: %s=%v (%T)", position.ErrBadPosition, TopicIDKey, v, v)
	}
	return offset, topicID, true, nil
}
