package converter

import (
	"testing"

	"github.com/rmqconnect/rmqconnect/schema/registry/registrytest"
)

// The Avro benchmarks use bench20, the JSON benchmarks' 20-field record, against a fake registry; after the
// first call the schema id and codecs are cached, so they measure the encoding alone.

func BenchmarkAvroEncodeStruct20(b *testing.B) {
	srv := registrytest.NewServer()
	defer srv.Close()
	c := avroConverter(b, srv, false, nil)
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
}

func BenchmarkAvroDecodeStruct20(b *testing.B) {
	srv := registrytest.NewServer()
	defer srv.Close()
	w := avroConverter(b, srv, false, nil)
	s, st := bench20()
	data, err := w.FromConnect("t", s, st)
	if err != nil {
		b.Fatal(err)
	}
	c := avroConverter(b, srv, false, nil)
	if _, _, err := c.ToConnect("t", data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.ToConnect("t", data); err != nil {
			b.Fatal(err)
		}
	}
}
