package transforms

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

func TestChainApply(t *testing.T) {
	cfg := map[string]string{
		"transforms":                   "route, drop ,hoist,tag",
		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       "(.*)",
		"transforms.route.replacement": "$1-out",
		"transforms.route.predicate":   "isOrders",
		"transforms.hoist.class":       "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.hoist.field":       "payload",
		"transforms.tag.type":          "InsertHeader",
		"transforms.tag.header":        "tagged",
		"transforms.tag.value.literal": "yes",
		"transforms.tag.predicate":     "hasH",
		"transforms.tag.negate":        "true",
		"transforms.drop.type":         "Filter",
		"transforms.drop.predicate":    "tomb",
		"predicates":                   "isOrders,hasH,tomb,unused",
		"predicates.isOrders.type":     "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isOrders.pattern":  "orders",
		"predicates.hasH.type":         "HasHeaderKey",
		"predicates.hasH.name":         "h",
		"predicates.tomb.type":         "RecordIsTombstone",
		"predicates.unused.class":      "RecordIsTombstone",
	}
	c, err := ParseChain(cfg, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"route", "drop", "hoist", "tag"}, c.Aliases())
	require.Equal(t, 4, c.Len())

	hoisted := schema.StructBuilder().Field("payload", schema.StringSchema).MustBuild()

	// orders: routed; has header h, so tag (negated) is skipped; not a tombstone.
	in := baseRecord()
	got, err := c.Apply(in)
	require.NoError(t, err)
	want := baseRecord()
	want.Topic = "orders-out"
	want.ValueSchema, want.Value = hoisted, mk(hoisted, "payload", "v1")
	requireRecordEqual(t, want, got)
	requireRecordEqual(t, baseRecord(), in)

	// other topic without header h: not routed, tagged.
	in = baseRecord()
	in.Topic, in.Headers = "users", nil
	got, err = c.Apply(in)
	require.NoError(t, err)
	require.Equal(t, "users", got.Topic)
	require.Equal(t, schema.Headers{{Key: "tagged", Schema: schema.StringSchema, Value: "yes"}}, got.Headers)

	// tombstones are dropped by Filter before anything else sees them.
	for _, sc := range []*schema.Schema{nil, schema.OptionalStringSchema} {
		in = baseRecord()
		in.ValueSchema, in.Value = sc, nil
		got, err = c.Apply(in)
		require.NoError(t, err)
		require.Nil(t, got)
	}
}

func TestChainEmptyAndNil(t *testing.T) {
	c, err := ParseChain(map[string]string{}, nil)
	require.NoError(t, err)
	require.Zero(t, c.Len())
	r := baseRecord()
	got, err := c.Apply(r)
	require.NoError(t, err)
	require.Same(t, r, got)
	var nilChain *Chain
	got, err = nilChain.Apply(r)
	require.NoError(t, err)
	require.Same(t, r, got)
	require.Nil(t, nilChain.Aliases())
	got, err = c.Apply(nil)
	require.NoError(t, err)
	require.Nil(t, got)
}

func TestParseChainErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]string
		keys []string // every *cfgerr.Error key, sorted
		errs []error
	}{
		{"unknown type", map[string]string{"transforms": "a", "transforms.a.type": "Nope"},
			[]string{"transforms.a.type"}, []error{ErrUnknownTransform}},
		{"unknown class", map[string]string{"transforms": "a", "transforms.a.class": "com.x.Nope"},
			[]string{"transforms.a.class"}, []error{ErrUnknownTransform}},
		{"missing type", map[string]string{"transforms": "a"},
			[]string{"transforms.a.type"}, []error{plugins.ErrMissingRequired}},
		{"type and class disagree", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.class": "InsertHeader"},
			[]string{"transforms.a.class"}, []error{plugins.ErrConflictingKeys}},
		{"missing required key", map[string]string{"transforms": "a", "transforms.a.type": "ExtractField$Value"},
			[]string{"transforms.a.field"}, []error{plugins.ErrMissingRequired}},
		{"bad regex", map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"},
			[]string{"transforms.a.regex"}, []error{plugins.ErrInvalidValue}},
		{"bad replacement", map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "x", "transforms.a.replacement": "$x"},
			[]string{"transforms.a.replacement"}, []error{plugins.ErrInvalidValue}},
		{"unknown predicate ref", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"},
			[]string{"transforms.a.predicate"}, []error{ErrUnknownPredicate}},
		{"unknown predicate type", map[string]string{"predicates": "p", "predicates.p.type": "Nope"},
			[]string{"predicates.p.type"}, []error{ErrUnknownPredicate}},
		{"predicate config", map[string]string{"predicates": "p", "predicates.p.type": "TopicNameMatches", "predicates.p.pattern": "[",
			"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"},
			[]string{"predicates.p.pattern"}, []error{plugins.ErrInvalidValue}},
		{"bad negate", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "maybe"},
			[]string{"transforms.a.negate"}, []error{plugins.ErrInvalidValue}},
		{"duplicate alias", map[string]string{"transforms": "a,a", "transforms.a.type": "Filter"},
			[]string{"transforms"}, []error{ErrDuplicateAlias}},
		{"all at once", map[string]string{"transforms": "a,b,c", "transforms.a.type": "Nope", "transforms.c.type": "Cast$Value",
			"transforms.c.spec": "x:uint7", "predicates": "p", "predicates.p.type": "HasHeaderKey"},
			[]string{"predicates.p.name", "transforms.a.type", "transforms.b.type", "transforms.c.spec"},
			[]error{ErrUnknownTransform, plugins.ErrMissingRequired, plugins.ErrInvalidValue}},
		{"cast whole plus field", map[string]string{"transforms": "c", "transforms.c.type": "Cast$Key", "transforms.c.spec": "int8,a:int8"},
			[]string{"transforms.c.spec"}, []error{plugins.ErrInvalidValue}},
		{"header from lengths", map[string]string{"transforms": "h", "transforms.h.type": "HeaderFrom$Value", "transforms.h.fields": "a,b",
			"transforms.h.headers": "x", "transforms.h.operation": "copy"}, []string{"transforms.h.headers"}, []error{plugins.ErrInvalidValue}},
		// An empty replacement fits no numeric field; Kafka's NonEmptyString refuses it (after trimming, so blank too).
		{"mask empty replacement", map[string]string{"transforms": "m", "transforms.m.type": "MaskField$Value", "transforms.m.fields": "a",
			"transforms.m.replacement": ""}, []string{"transforms.m.replacement"}, []error{plugins.ErrInvalidValue}},
		{"mask blank replacement", map[string]string{"transforms": "m", "transforms.m.type": "MaskField$Value", "transforms.m.fields": "a",
			"transforms.m.replacement": "  "}, []string{"transforms.m.replacement"}, []error{plugins.ErrInvalidValue}},
		{"timestamp string needs format", map[string]string{"transforms": "t", "transforms.t.type": "TimestampConverter$Value",
			"transforms.t.target.type": "string"}, []string{"transforms.t.format"}, []error{plugins.ErrMissingRequired}},
		{"timestamp bad target", map[string]string{"transforms": "t", "transforms.t.type": "TimestampConverter$Value",
			"transforms.t.target.type": "epoch"}, []string{"transforms.t.target.type"}, []error{plugins.ErrInvalidValue}},
		{"set schema metadata nothing", map[string]string{"transforms": "s", "transforms.s.type": "SetSchemaMetadata$Value"},
			[]string{"transforms.s.schema.name"}, []error{plugins.ErrMissingRequired}},
		{"insert static without value", map[string]string{"transforms": "i", "transforms.i.type": "InsertField$Value", "transforms.i.static.field": "s"},
			[]string{"transforms.i.static.value"}, []error{plugins.ErrMissingRequired}},
		{"change case", map[string]string{"transforms": "c", "transforms.c.type": "org.apache.rocketmq.connect.transforms.ChangeCase$Value",
			"transforms.c.from": "CAMEL", "transforms.c.to": "LOWER_CAMEL"}, []string{"transforms.c.from"}, []error{plugins.ErrInvalidValue}},
		{"replace renames", map[string]string{"transforms": "r", "transforms.r.type": "ReplaceField$Value", "transforms.r.renames": "a"},
			[]string{"transforms.r.renames"}, []error{plugins.ErrInvalidValue}},
		{"precision", map[string]string{"transforms": "p", "transforms.p.type": "SetMaximumPrecision$Value", "transforms.p.precision.max": "0"},
			[]string{"transforms.p.precision.max"}, []error{plugins.ErrInvalidValue}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChain(tc.cfg, Builtins())
			require.Error(t, err)
			require.Nil(t, c)
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			for _, e := range tc.errs {
				require.ErrorIs(t, err, e)
			}
			var keys []string
			for _, fe := range cfgerr.Flatten(err) {
				keys = append(keys, fe.Key)
				require.Contains(t, err.Error(), fe.Key)
			}
			require.Equal(t, tc.keys, keys, err.Error())
		})
	}
}

// TestDuplicateFieldConfigsRejected checks that configurations that would build a struct schema with one field name
// twice (two InsertField keys naming one field) or insert a field without a name are refused with the key and the reason, instead of producing such a schema on every record.
func TestDuplicateFieldConfigsRejected(t *testing.T) {
	cases := []struct {
		name, key, reason string
		cfg               map[string]string
	}{
		{"insert field twice", "transforms.i.offset.field", "names the same field as topic.field",
			map[string]string{"transforms": "i", "transforms.i.type": "InsertField$Value", "transforms.i.topic.field": "meta!",
				"transforms.i.offset.field": "meta?"}},
		{"insert field marker only", "transforms.i.topic.field", "names no field",
			map[string]string{"transforms": "i", "transforms.i.type": "InsertField$Value", "transforms.i.topic.field": "!"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChain(tc.cfg, nil)
			require.Nil(t, c)
			require.ErrorIs(t, err, plugins.ErrInvalidValue)
			fes := cfgerr.Flatten(err)
			require.Len(t, fes, 1, err.Error())
			require.Equal(t, tc.key, fes[0].Key)
			require.ErrorContains(t, err, tc.reason)
		})
	}
}

func TestParseChainMessages(t *testing.T) {
	_, err := ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"}, nil)
	require.ErrorContains(t, err, `transforms.a.regex: invalid regular expression`)
	require.ErrorContains(t, err, `(value "(")`)
	_, err = ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "Nope"}, nil)
	require.EqualError(t, err, `transforms.a.type: unknown transform type (value "Nope")`)
}

// panicky is a third-party transform whose Configure panics.
type panicky struct{}

func (panicky) Configure(map[string]string) error               { panic("boom") }
func (panicky) Apply(r *schema.Record) (*schema.Record, error)  { return r, nil }
func (failing) Configure(map[string]string) error               { return nil }
func (failing) Apply(*schema.Record) (*schema.Record, error)    { return nil, errors.New("nope") }
func (plainErr) Configure(map[string]string) error              { return errors.New("plain failure") }
func (plainErr) Apply(r *schema.Record) (*schema.Record, error) { return r, nil }

type failing struct{}
type plainErr struct{}

func TestCustomRegistry(t *testing.T) {
	reg := NewRegistry()
	require.NoError(t, reg.RegisterTransform("panicky", []string{"com.example.Panicky"}, func() Transform { return panicky{} }))
	require.NoError(t, reg.RegisterTransform("failing", nil, func() Transform { return failing{} }))
	require.NoError(t, reg.RegisterTransform("plain", nil, func() Transform { return plainErr{} }))
	require.ErrorIs(t, reg.RegisterTransform("x", []string{"panicky"}, func() Transform { return failing{} }), ErrDuplicateName)
	require.ErrorIs(t, reg.RegisterTransform("failing", nil, func() Transform { return failing{} }), ErrDuplicateName)
	require.Error(t, reg.RegisterTransform("nil", nil, nil))
	require.Error(t, reg.RegisterTransform("", nil, func() Transform { return failing{} }))
	require.ErrorIs(t, reg.RegisterPredicate("p", []string{"p"}, func() Predicate { return &RecordIsTombstone{} }), ErrDuplicateName)
	require.Len(t, reg.Transforms(), 3)
	require.Empty(t, reg.Predicates())

	_, err := ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "com.example.Panicky"}, reg)
	require.ErrorContains(t, err, "transforms.a: configure panicked: boom")
	_, err = ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "plain"}, reg)
	require.EqualError(t, err, "transforms.a: plain failure")
	_, err = ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "Filter"}, reg)
	require.ErrorIs(t, err, ErrUnknownTransform, "a custom registry does not include the built-ins")

	c, err := ParseChain(map[string]string{"transforms": "f", "transforms.f.type": "failing"}, reg)
	require.NoError(t, err)
	_, err = c.Apply(baseRecord())
	require.EqualError(t, err, "transform f: nope")
}

func TestBuiltinsRegistry(t *testing.T) {
	reg := Builtins()
	infos := reg.Transforms()
	names := map[string]bool{}
	for _, i := range infos {
		names[i.Name] = true
	}
	for _, b := range builtinTransforms() {
		if b.keyed {
			require.True(t, names[b.name+"$Key"], b.name)
			require.True(t, names[b.name+"$Value"], b.name)
		} else {
			require.True(t, names[b.name], b.name)
		}
	}
	for _, alias := range []string{
		"org.apache.kafka.connect.transforms.InsertField$Value", "org.apache.kafka.connect.transforms.ReplaceField$Key",
		"org.apache.kafka.connect.transforms.ValueToKey", "org.apache.kafka.connect.transforms.TimestampConverter$Value",
		"org.apache.rocketmq.connect.transforms.ChangeCase$Value", "org.apache.rocketmq.connect.transforms.PatternRename$Key",
		"org.apache.rocketmq.connect.transforms.SetNull$Key", "org.apache.rocketmq.connect.transforms.RegexRouter",
		"com.github.jcustenborder.kafka.connect.transform.common.ExtractNestedField$Value",
		"io.debezium.transforms.ExtractNewRecordState",
	} {
		_, err := reg.NewTransform(alias)
		require.NoError(t, err, alias)
	}
	require.Len(t, reg.Predicates(), 3)
	// Every built-in with keys declares them, and its docs render.
	for _, i := range infos {
		if i.Spec != nil {
			require.Contains(t, i.Spec.Markdown(), "| Key |", i.Name)
		}
	}
	require.Len(t, infos, 2*16+7, "16 keyed transforms and 7 record-level ones")
}
