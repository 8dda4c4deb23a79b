package kafka

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/schema"
)

// How Kafka headers travel as RocketMQ user properties (a map of text to text):
//
//   - a header whose value is text that a property can carry keeps its key and value;
//   - any other value (binary, or holding the separators \x01 or \x02) travels base64-encoded, and its
//     property name is listed in the property PropBinaryHeaders (a JSON array), so the sink decodes it back;
//   - a key RocketMQ or the worker uses itself (KEYS, TAGS, DELAY, UNIQ_KEY, connect.*, …), or one that
//     starts with EscapePrefix or KeyEscapePrefix, travels as EscapePrefix+key, so a Kafka header can never
//     delay, tag or re-key a RocketMQ message; the sink strips the prefix again;
//   - a key a property name cannot carry (binary, or holding the separators) travels as KeyEscapePrefix
//     and the key in unpadded URL-safe base64; the sink decodes it back;
//   - a null or empty value is not carried (RocketMQ drops empty properties), and of repeated keys the
//     last one wins.
const (
	// PropBinaryHeaders lists (JSON array) the properties holding base64 of a binary header value.
	PropBinaryHeaders = "kafka.headers.b64"
	// EscapePrefix marks a property that carries a header whose own key is reserved.
	EscapePrefix = "kafka.h."
	// KeyEscapePrefix marks a property that carries a header whose key is not plain text: the rest of the
	// property's name is the key in unpadded URL-safe base64.
	KeyEscapePrefix = "kafka.hk."
	// PropEmptyValue marks a record whose Kafka value was null ("null") or empty ("empty"): RocketMQ
	// refuses a message with an empty body, so such a message carries the one byte emptyBody instead
	// and kafka-sink restores the value.
	PropEmptyValue = "kafka.value.empty"
	valueNull      = "null"
	valueEmpty     = "empty"
)

// emptyBody is the body of a message whose Kafka value was null or empty (see PropEmptyValue).
var emptyBody = []byte{0}

// reserved are the property names RocketMQ brokers and clients interpret (MessageConst), which a Kafka
// header must not set.
var reserved = map[string]bool{
	"KEYS": true, "TAGS": true, "WAIT": true, "DELAY": true, "RETRY_TOPIC": true, "REAL_TOPIC": true, "REAL_QID": true,
	"TRAN_MSG": true, "PGROUP": true, "MIN_OFFSET": true, "MAX_OFFSET": true, "BUYER_ID": true, "ORIGIN_MESSAGE_ID": true,
	"TRANSFER_FLAG": true, "CORRECTION_FLAG": true, "MQ2_FLAG": true, "RECONSUME_TIME": true, "MSG_REGION": true,
	"TRACE_ON": true, "UNIQ_KEY": true, "MAX_RECONSUME_TIMES": true, "CONSUME_START_TIME": true, "SHARDING_KEY": true,
	"__SHARDINGKEY": true, "CLUSTER": true, "INNER_NUM": true, "INNER_BASE": true, "TRAN_PREPARED_QUEUE_OFFSET": true,
	"TRANSACTION_CHECK_TIMES": true, "CHECK_IMMUNITY_TIME_IN_SECONDS": true, "INSTANCE_ID": true, "CORRELATION_ID": true,
	"REPLY_TO_CLIENT": true, "TTL": true, "ARRIVE_TIME": true, "MSG_TYPE": true, "__STARTDELIVERTIME": true,
	"TIMER_DELIVER_MS": true, "TIMER_DELAY_SEC": true, "TIMER_DELAY_MS": true, "TIMER_OUT_MS": true,
	"TIMER_ENQUEUE_MS": true, "TIMER_DEQUEUE_MS": true, "TIMER_ROLL_TIMES": true, "TIMER_DEL_UNIQKEY": true,
	"__BORNHOST": true, "bname": true, "POP_CK": true, "1ST_POP_TIME": true, "DUP_INFO": true, "CRC32": true,
	"INNER_MULTI_DISPATCH": true, "INNER_MULTI_QUEUE_OFFSET": true, "TRACE_CONTEXT": true, "DelayLevel": true,
	PropBinaryHeaders: true, PropEmptyValue: true,
}

// propertyName is the property that carries Kafka header key k.
func propertyName(k string) string {
	if !plainText([]byte(k)) {
		return KeyEscapePrefix + base64.RawURLEncoding.EncodeToString([]byte(k))
	}
	if reserved[k] || strings.HasPrefix(k, EscapePrefix) || strings.HasPrefix(k, KeyEscapePrefix) ||
		strings.HasPrefix(k, "connect.") || strings.HasPrefix(k, "__connect.") {
		return EscapePrefix + k
	}
	return k
}

// headerKey is the Kafka header key a property carries.
func headerKey(p string) (string, error) {
	if k, ok := strings.CutPrefix(p, EscapePrefix); ok {
		return k, nil
	}
	if enc, ok := strings.CutPrefix(p, KeyEscapePrefix); ok {
		k, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return "", fmt.Errorf("%w: property %s: the header key after %s is not base64: %v", ErrBadHeader, p, KeyEscapePrefix, err)
		}
		return string(k), nil
	}
	return p, nil
}

// plainText reports whether v can travel as a property value unchanged.
func plainText(v []byte) bool {
	return utf8.Valid(v) && !strings.ContainsAny(string(v), "\x00\x01\x02")
}

// toRecordHeaders maps Kafka headers onto record headers (string values), see the rules above.
func toRecordHeaders(hs []kgo.RecordHeader) schema.Headers {
	if len(hs) == 0 {
		return nil
	}
	out := make(schema.Headers, 0, len(hs)+1)
	idx := make(map[string]int, len(hs))
	var binary []string
	for _, h := range hs {
		if len(h.Value) == 0 || h.Key == "" {
			continue
		}
		name := propertyName(h.Key)
		val := string(h.Value)
		isBin := !plainText(h.Value)
		if isBin {
			val = base64.StdEncoding.EncodeToString(h.Value)
		}
		x := schema.Header{Key: name, Schema: schema.OptionalStringSchema, Value: val}
		if i, ok := idx[name]; ok {
			out[i] = x // last one wins
		} else {
			idx[name] = len(out)
			out = append(out, x)
		}
		if isBin {
			binary = append(binary, name)
		} else {
			binary = remove(binary, name)
		}
	}
	if len(binary) > 0 {
		b, _ := json.Marshal(dedupe(binary)) // a []string always marshals
		out = append(out, schema.Header{Key: PropBinaryHeaders, Schema: schema.OptionalStringSchema, Value: string(b)})
	}
	return out
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// toKafkaHeaders maps record headers (properties of a consumed message) back onto Kafka headers. Header
// values other than strings and bytes are rendered as text (JSON for structures).
func toKafkaHeaders(hs schema.Headers) ([]kgo.RecordHeader, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	var binary map[string]bool
	if h, ok := hs.Get(PropBinaryHeaders); ok {
		s, _ := h.Value.(string)
		var names []string
		if err := json.Unmarshal([]byte(s), &names); err != nil {
			return nil, fmt.Errorf("%w: %s is not a JSON array of names: %v", ErrBadHeader, PropBinaryHeaders, err)
		}
		binary = make(map[string]bool, len(names))
		for _, n := range names {
			binary[n] = true
		}
	}
	out := make([]kgo.RecordHeader, 0, len(hs))
	for _, h := range hs {
		if h.Key == PropBinaryHeaders || h.Key == PropEmptyValue {
			continue
		}
		v, err := headerBytes(h.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: header %s: %v", ErrBadHeader, h.Key, err)
		}
		if binary[h.Key] {
			if v, err = base64.StdEncoding.DecodeString(string(v)); err != nil {
				return nil, fmt.Errorf("%w: header %s is listed in %s but is not base64: %v", ErrBadHeader, h.Key, PropBinaryHeaders, err)
			}
		}
		k, err := headerKey(h.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, kgo.RecordHeader{Key: k, Value: v})
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// headerBytes renders a header, key or value as Kafka bytes: bytes and strings as they are, nil as nil,
// anything else as JSON.
func headerBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	default:
		return json.Marshal(x)
	}
}
