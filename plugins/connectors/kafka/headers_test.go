package kafka

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/schema"
)

// TestHeadersRoundTrip: Kafka headers → record headers (properties) → Kafka headers gives back every header
// with a non-empty value (last of a repeated key), text, binary and reserved names alike.
func TestHeadersRoundTrip(t *testing.T) {
	in := []kgo.RecordHeader{
		{Key: "trace-id", Value: []byte("abc-123")},
		{Key: "bin", Value: []byte{0xff, 0x00, 0x01, 0x02}},
		{Key: "sep", Value: []byte("a\x01b")},
		{Key: "KEYS", Value: []byte("not the message keys")},
		{Key: "DELAY", Value: []byte("3")},
		{Key: "connect.timestamp", Value: []byte("1")},
		{Key: "kafka.h.x", Value: []byte("escaped twice")},
		{Key: PropBinaryHeaders, Value: []byte("[]")},
		{Key: "empty", Value: []byte{}},
		{Key: "null", Value: nil},
		{Key: "dup", Value: []byte{0xfe}},
		{Key: "dup", Value: []byte("last")},
		{Key: "ünïcødé ✓", Value: []byte("välue")},
	}
	rec := toRecordHeaders(in)
	for _, h := range rec {
		require.False(t, reserved[h.Key] && h.Key != PropBinaryHeaders, "reserved property %s set", h.Key)
		require.NotContains(t, h.Value.(string), "\x01")
	}
	got, err := toKafkaHeaders(rec)
	require.NoError(t, err)
	want := []kgo.RecordHeader{
		{Key: "trace-id", Value: []byte("abc-123")},
		{Key: "bin", Value: []byte{0xff, 0x00, 0x01, 0x02}},
		{Key: "sep", Value: []byte("a\x01b")},
		{Key: "KEYS", Value: []byte("not the message keys")},
		{Key: "DELAY", Value: []byte("3")},
		{Key: "connect.timestamp", Value: []byte("1")},
		{Key: "kafka.h.x", Value: []byte("escaped twice")},
		{Key: PropBinaryHeaders, Value: []byte("[]")},
		{Key: "dup", Value: []byte("last")},
		{Key: "ünïcødé ✓", Value: []byte("välue")},
	}
	require.Empty(t, cmp.Diff(want, got))
}

func TestHeadersToKafkaSortedProperties(t *testing.T) {
	// The worker hands properties back sorted by name, the binary list among them.
	hs := schema.Headers{
		{Key: "a", Value: "x"},
		{Key: "b", Value: "AQI="},
		{Key: PropBinaryHeaders, Value: `["b"]`},
		{Key: EscapePrefix + "TAGS", Value: "t"},
	}
	got, err := toKafkaHeaders(hs)
	require.NoError(t, err)
	require.Equal(t, []kgo.RecordHeader{{Key: "a", Value: []byte("x")}, {Key: "b", Value: []byte{1, 2}}, {Key: "TAGS", Value: []byte("t")}}, got)

	_, err = toKafkaHeaders(schema.Headers{{Key: PropBinaryHeaders, Value: "nope"}})
	require.ErrorIs(t, err, ErrBadHeader)
	_, err = toKafkaHeaders(schema.Headers{{Key: "b", Value: "%%%"}, {Key: PropBinaryHeaders, Value: `["b"]`}})
	require.ErrorIs(t, err, ErrBadHeader)
}
