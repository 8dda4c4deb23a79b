package converter

import (
	"fmt"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// bench20 returns a 20-field struct schema and value: a mix of every primitive type, an optional null, two
// logical types and a short array, like a typical CDC row.
func bench20() (*schema.Schema, *schema.Struct) {
	b := schema.StructBuilder().Name("com.example.Row")
	types := []*schema.Schema{schema.Int64Schema, schema.StringSchema, schema.Int32Schema, schema.Float64Schema, schema.BooleanSchema}
	for i := range 15 {
		b.Field(fmt.Sprintf("f%02d", i), types[i%len(types)])
	}
	b.Field("blob", schema.BytesSchema).
		Field("note", schema.OptionalStringSchema).
		Field("price", schema.DecimalSchema(2)).
		Field("updated", schema.TimestampSchema()).
		Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild())
	s := b.MustBuild()
	st := schema.NewStruct(s)
	for i := range 15 {
		var v any
		switch i % len(types) {
		case 0:
			v = int64(1700000000000 + i)
		case 1:
			v = fmt.Sprintf("value number %d with some text", i)
		case 2:
			v = int32(i * 1000)
		case 3:
			v = float64(i) * 1.25
		case 4:
			v = i%2 == 0
		}
		st.MustPut(fmt.Sprintf("f%02d", i), v)
	}
	st.MustPut("blob", []byte("0123456789abcdef")).
		MustPut("price", schema.NewDecimal(1234567, 2)).
		MustPut("updated", time.UnixMilli(1700000000123).UTC()).
		MustPut("tags", []any{"a", "bb", "ccc"})
	return s, st
}

func benchConverter(b *testing.B, schemas bool) *JSONConverter {
	c := NewJSONConverter()
	if err := c.Configure(map[string]string{"schemas.enable": fmt.Sprint(schemas)}, false); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkJSONEncodeStruct20(b *testing.B) {
	for _, schemas := range []bool{true, false} {
		b.Run(fmt.Sprintf("schemas=%v", schemas), func(b *testing.B) {
			c := benchConverter(b, schemas)
			s, st := bench20()
			out, err := c.FromConnect("t", s, st)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.FromConnect("t", s, st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJSONDecodeStruct20(b *testing.B) {
	for _, schemas := range []bool{true, false} {
		b.Run(fmt.Sprintf("schemas=%v", schemas), func(b *testing.B) {
			c := benchConverter(b, schemas)
			s, st := bench20()
			data, err := c.FromConnect("t", s, st)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.ToConnect("t", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
