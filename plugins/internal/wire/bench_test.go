package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

// generatorBatch is a poll batch as generator-source makes it: 1000 records of 100 bytes
// with a string key, sharing one source partition.
func generatorBatch() []*schema.Record {
	part := map[string]any{"generator": "g", "task": int64(0)}
	out := make([]*schema.Record, 1000)
	for i := range out {
		r := schema.NewRecord("t", schema.StringSchema, "key-1", schema.BytesSchema, make([]byte, 100))
		r.SourcePartition = part
		r.SourceOffset = map[string]any{"seq": int64(i)}
		out[i] = r
	}
	return out
}

// BenchmarkBatchCrossing is the protocol's cost of one poll batch: encode, marshal,
// unmarshal, decode (ns/op is per batch of 1000 records).
func BenchmarkBatchCrossing(b *testing.B) {
	recs := generatorBatch()
	b.ReportAllocs()
	for b.Loop() {
		m, err := EncodeBatch(recs)
		if err != nil {
			b.Fatal(err)
		}
		data, err := proto.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		var back pb.Batch
		if err := proto.Unmarshal(data, &back); err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeBatch(&back); err != nil {
			b.Fatal(err)
		}
	}
}
