package kafka

import (
	"strings"
	"testing"
	"unicode/utf8"

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
		{Key: "k\x01ey", Value: []byte("a key with a separator")},
		{Key: "\xff\x00", Value: []byte("a binary key")},
		{Key: "kafka.hk.x", Value: []byte("looks encoded")},
	}
	rec := toRecordHeaders(in)
	for _, h := range rec {
		require.False(t, reserved[h.Key] && h.Key != PropBinaryHeaders, "reserved property %s set", h.Key)
		require.NotContains(t, h.Value.(string), "\x01")
		require.False(t, strings.ContainsAny(h.Key, "\x00\x01\x02"), "property name %q", h.Key)
		require.True(t, utf8.ValidString(h.Key), "property name %q", h.Key)
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
		{Key: "k\x01ey", Value: []byte("a key with a separator")},
		{Key: "\xff\x00", Value: []byte("a binary key")},
		{Key: "kafka.hk.x", Value: []byte("looks encoded")},
	}
	require.Empty(t, cmp.Diff(want, got))

	_, err = toKafkaHeaders(schema.Headers{{Key: KeyEscapePrefix + "!!", Value: "v"}})
	require.ErrorIs(t, err, ErrBadHeader)
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

// TestEmptyValuesRoundTrip: a null and an empty Kafka value become a one-byte body (RocketMQ refuses empty
// ones) marked with PropEmptyValue, and kafka-sink writes them back as null and empty; a Kafka header named
// like the marker travels escaped and does not change the value.
func TestEmptyValuesRoundTrip(t *testing.T) {
	src := &SourceTask{targets: map[string]string{"in": "mid"}, format: topicPlaceholder}
	sink := &SinkTask{fixed: "out"}
	tests := []struct {
		name  string
		value []byte
		hs    []kgo.RecordHeader
	}{
		{"null", nil, nil},
		{"empty", []byte{}, nil},
		{"data", []byte("v"), nil},
		{"marker header on data", []byte("v"), []kgo.RecordHeader{{Key: PropEmptyValue, Value: []byte("null")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := src.record(&kgo.Record{Topic: "in", Key: []byte("k"), Value: tt.value, Headers: tt.hs})
			body, ok := rec.Value.([]byte)
			require.True(t, ok)
			require.NotEmpty(t, body, "a RocketMQ body is never empty")
			out, err := sink.kafkaRecord(rec)
			require.NoError(t, err)
			require.Equal(t, tt.value, out.Value)
			require.Equal(t, "out", out.Topic)
			require.Empty(t, cmp.Diff(tt.hs, out.Headers))
		})
	}
}
