package transforms

import (
	"fmt"
	"testing"

	"github.com/rmqconnect/rmqconnect/schema"
)

// bench20 returns a 20-field struct record (and its schemaless twin).
func bench20() (*schema.Record, *schema.Record) {
	b := schema.StructBuilder().Name("Row")
	for i := range 20 {
		switch i % 4 {
		case 0:
			b.Field(fmt.Sprintf("f%d", i), schema.Int64Schema)
		case 1:
			b.Field(fmt.Sprintf("f%d", i), schema.StringSchema)
		case 2:
			b.Field(fmt.Sprintf("f%d", i), schema.OptionalFloat64Schema)
		default:
			b.Field(fmt.Sprintf("f%d", i), schema.BooleanSchema)
		}
	}
	sc := b.MustBuild()
	st := schema.NewStruct(sc)
	m := map[string]any{}
	for i, f := range sc.Fields {
		var v any
		switch i % 4 {
		case 0:
			v = int64(i)
		case 1:
			v = fmt.Sprintf("value-%d", i)
		case 2:
			v = float64(i) / 3
		default:
			v = i%2 == 0
		}
		st.MustPut(f.Name, v)
		m[f.Name] = v
	}
	r := baseRecord()
	r.ValueSchema, r.Value = sc, st
	sl := baseRecord()
	sl.ValueSchema, sl.Value = nil, m
	return r, sl
}

var benchChainConfig = map[string]string{
	"transforms":                        "rename,mask,insert,cast,route",
	"transforms.rename.type":            "ReplaceField$Value",
	"transforms.rename.renames":         "f1:name,f5:email",
	"transforms.rename.exclude":         "f19",
	"transforms.mask.type":              "MaskField$Value",
	"transforms.mask.fields":            "email",
	"transforms.insert.type":            "InsertField$Value",
	"transforms.insert.topic.field":     "topic",
	"transforms.insert.timestamp.field": "ts",
	"transforms.cast.type":              "Cast$Value",
	"transforms.cast.spec":              "f0:string,f2:float32",
	"transforms.route.type":             "RegexRouter",
	"transforms.route.regex":            "(.*)",
	"transforms.route.replacement":      "$1-v2",
}

// BenchmarkChain5 runs a 5-transform chain (ReplaceField, MaskField,
// InsertField, Cast, RegexRouter) over a 20-field record.
func BenchmarkChain5(b *testing.B) {
	structRec, mapRec := bench20()
	c, err := ParseChain(benchChainConfig, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		r    *schema.Record
	}{{"struct", structRec}, {"schemaless", mapRec}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.Apply(bc.r)
				if err != nil || out == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
