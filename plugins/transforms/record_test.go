package transforms

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/schema"
)

// recCase is a record-level case (no key/value variants).
type recCase struct {
	name string
	typ  string
	cfg  map[string]string
	in   func(r *schema.Record) // adjusts baseRecord
	want func(r *schema.Record) // adjusts baseRecord into the expected record
	drop bool
	err  error
}

func TestRecordTransforms(t *testing.T) {
	keySc := schema.StructBuilder().Field("id", schema.Int32Schema).Field("name", schema.StringSchema).MustBuild()
	cases := []recCase{
		{name: "regex match", typ: "RegexRouter", cfg: map[string]string{"regex": "(.*)ers", "replacement": "$1-${1}x"},
			want: func(r *schema.Record) { r.Topic = "ord-ordx" }},
		{name: "regex partial does not match", typ: "RegexRouter", cfg: map[string]string{"regex": "ord", "replacement": "x"}},
		{name: "regex kafka class", typ: "org.apache.kafka.connect.transforms.RegexRouter", cfg: map[string]string{"regex": "orders", "replacement": "o"},
			want: func(r *schema.Record) { r.Topic = "o" }},
		{name: "regex rocketmq class", typ: "org.apache.rocketmq.connect.transforms.RegexRouter", cfg: map[string]string{"regex": "orders", "replacement": "\\$"},
			want: func(r *schema.Record) { r.Topic = "$" }},
		{name: "timestamp router default", typ: "TimestampRouter", cfg: nil, want: func(r *schema.Record) { r.Topic = "orders-20240102" }},
		{name: "timestamp router format", typ: "TimestampRouter", cfg: map[string]string{"topic.format": "${timestamp}_${topic}", "timestamp.format": "yyyy-MM-dd_HH"},
			want: func(r *schema.Record) { r.Topic = "2024-01-02_03_orders" }},
		{name: "timestamp router no time", typ: "TimestampRouter", in: func(r *schema.Record) { r.Timestamp = time.Time{} }, err: ErrUnsupportedValue},
		{name: "filter", typ: "Filter", drop: true},
		{name: "filter kafka class", typ: "org.apache.kafka.connect.transforms.Filter", drop: true},
		{name: "insert header", typ: "InsertHeader", cfg: map[string]string{"header": "src", "value.literal": "db1"},
			want: func(r *schema.Record) {
				r.Headers = append(r.Headers, schema.Header{Key: "src", Schema: schema.StringSchema, Value: "db1"})
			}},
		{name: "drop headers", typ: "DropHeaders", cfg: map[string]string{"headers": "h,other"},
			in: func(r *schema.Record) {
				r.Headers = append(r.Headers, schema.Header{Key: "keep", Value: "1"}, schema.Header{Key: "h", Value: "2"})
			},
			want: func(r *schema.Record) { r.Headers = schema.Headers{{Key: "keep", Value: "1"}} }},
		{name: "value to key", typ: "ValueToKey", cfg: map[string]string{"fields": "id,name"},
			in: func(r *schema.Record) { r.ValueSchema, r.Value = userSc, user() },
			want: func(r *schema.Record) {
				r.ValueSchema, r.Value = userSc, user()
				r.KeySchema, r.Key = keySc, mk(keySc, "id", int32(1), "name", "ann")
			}},
		{name: "value to key schemaless", typ: "ValueToKey", cfg: map[string]string{"fields": "id,missing"},
			in: func(r *schema.Record) { r.ValueSchema, r.Value = nil, userMap() },
			want: func(r *schema.Record) {
				r.ValueSchema, r.Value = nil, userMap()
				r.KeySchema, r.Key = nil, map[string]any{"id": int64(1), "missing": nil}
			}},
		{name: "value to key missing field", typ: "ValueToKey", cfg: map[string]string{"fields": "nope"},
			in: func(r *schema.Record) { r.ValueSchema, r.Value = userSc, user() }, err: ErrFieldNotFound},
		{name: "value to key tombstone", typ: "ValueToKey", cfg: map[string]string{"fields": "id"},
			in: func(r *schema.Record) { r.ValueSchema, r.Value = nil, nil }, err: ErrUnsupportedValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransform(t, tc.typ, tc.cfg)
			in := baseRecord()
			if tc.in != nil {
				tc.in(in)
			}
			got, err := applyUnmutated(t, tr, in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.drop {
				require.Nil(t, got)
				return
			}
			want := baseRecord()
			if tc.in != nil {
				tc.in(want)
			}
			if tc.want != nil {
				tc.want(want)
			}
			requireRecordEqual(t, want, got)
		})
	}
}

// TestRegexRouterGroupReferences checks that group references read as Java reads them: "$10" with one group is
// group 1 then "0", and a group the regex does not have is a configuration error naming the key, not a topic with
// the reference left empty.
func TestRegexRouterGroupReferences(t *testing.T) {
	for repl, want := range map[string]string{"$10": "orders0", "${t}-$1": "orders-orders", "$0x": "ordersx"} {
		tr := newTransform(t, "RegexRouter", map[string]string{"regex": "(?P<t>.*)", "replacement": repl})
		got, err := tr.Apply(baseRecord())
		require.NoError(t, err, repl)
		require.Equal(t, want, got.Topic, repl)
	}
	for _, repl := range []string{"$2", "${nope}", "x$9"} {
		tr, err := Builtins().NewTransform("RegexRouter")
		require.NoError(t, err)
		err = tr.Configure(map[string]string{"regex": "(.*)", "replacement": repl})
		var ce *cfgerr.Error
		require.ErrorAs(t, err, &ce, repl)
		require.Equal(t, "replacement", ce.Key, repl)
		require.ErrorContains(t, err, "no group", repl)
	}
	tr, err := Builtins().NewTransform("PatternRename$Value")
	require.NoError(t, err)
	require.ErrorContains(t, tr.Configure(map[string]string{"field.pattern": "a", "field.replacement": "$1"}), "no group 1")
}

func TestPredicates(t *testing.T) {
	reg := Builtins()
	tomb := baseRecord()
	tomb.Value = nil
	cases := []struct {
		typ  string
		cfg  map[string]string
		rec  *schema.Record
		want bool
	}{
		{"TopicNameMatches", map[string]string{"pattern": "ord.*"}, baseRecord(), true},
		{"TopicNameMatches", map[string]string{"pattern": "ord"}, baseRecord(), false},
		{"org.apache.kafka.connect.transforms.predicates.TopicNameMatches", map[string]string{"pattern": "x|orders"}, baseRecord(), true},
		{"HasHeaderKey", map[string]string{"name": "h"}, baseRecord(), true},
		{"HasHeaderKey", map[string]string{"name": "nope"}, baseRecord(), false},
		{"RecordIsTombstone", nil, baseRecord(), false},
		{"org.apache.kafka.connect.transforms.predicates.RecordIsTombstone", nil, tomb, true},
	}
	for _, tc := range cases {
		p, err := reg.NewPredicate(tc.typ)
		require.NoError(t, err)
		require.NoError(t, p.Configure(tc.cfg))
		require.Equal(t, tc.want, p.Test(tc.rec), "%s %v", tc.typ, tc.cfg)
	}
}

func TestJavaReplacementAndLayout(t *testing.T) {
	twelve := regexp.MustCompile(strings.Repeat("(.)", 11) + "(?P<name>.)")
	for in, want := range map[string]string{"$1": "${1}", "a$12b": "a${12}b", "$13": "${1}3", "${name}x": "${name}x", `\$1`: "$$1", `\\`: `\`, "plain": "plain"} {
		got, err := javaReplacement(in, twelve)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"$", "$x", "${x", `a\`} {
		_, err := javaReplacement(bad, twelve)
		require.Error(t, err, bad)
	}
	ts := time.Date(2024, 3, 4, 15, 6, 7, 89e6, time.UTC)
	for pattern, want := range map[string]string{
		"yyyyMMdd": "20240304", "yy-M-d": "24-3-4", "HH:mm:ss.SSS": "15:06:07.089", "hh a": "03 PM",
		"EEE, dd MMM yyyy": "Mon, 04 Mar 2024", "yyyy-MM-dd'T'HH:mm:ssXXX": "2024-03-04T15:06:07Z", "'It''s' D": "It's 064",
		"EEEE MMMM": "Monday March", "Z": "+0000",
	} {
		l, err := parseJavaLayout(pattern)
		require.NoError(t, err, pattern)
		require.Equal(t, want, l.format(ts), pattern)
	}
	for _, bad := range []string{"yyyy'", "ss SSS", "QQ", "yyyy1", "'1'"} {
		_, err := parseJavaLayout(bad)
		require.Error(t, err, bad)
	}
}
