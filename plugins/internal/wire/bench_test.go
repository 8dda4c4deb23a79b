package wire

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
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

// sinkBatch is a Put of n records as the worker's sink hands them to a plugin after the string
// key and bytearray value converters (BenchmarkPluginSinkThroughput's records): a 100-byte value,
// a string key, queue coordinates, a message id and a timestamp.
func sinkBatch(n int) []*schema.Record {
	out := make([]*schema.Record, n)
	ts := time.UnixMilli(1_700_000_000_000)
	for i := range out {
		out[i] = &schema.Record{Topic: "bench-topic", QueueID: i % 4, QueueOffset: int64(i), BrokerName: "broker-a",
			MsgID: fmt.Sprintf("7F0000010001%020X", i), KeySchema: schema.StringSchema, Key: fmt.Sprintf("key-%d", i%1000),
			ValueSchema: schema.BytesSchema, Value: make([]byte, 100), Timestamp: ts}
	}
	return out
}

// BenchmarkPutBatch is each side's share of a Put of 256 sink records (ns/op per Put): the
// worker encodes the records and marshals the request with the codec, the plugin unmarshals it
// and decodes the records.
func BenchmarkPutBatch(b *testing.B) {
	recs := sinkBatch(256)
	var c codec
	var buf []byte
	encode := func() mem.BufferSlice {
		batch, err := AppendBatch(buf, recs)
		if err != nil {
			b.Fatal(err)
		}
		buf = batch.Records
		data, err := c.Marshal(&pb.PutRequest{Batch: batch})
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	b.Run("worker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encode().Free()
		}
	})
	b.Run("plugin", func(b *testing.B) {
		data := encode()
		defer data.Free()
		b.ReportAllocs()
		for b.Loop() {
			var req pb.PutRequest
			if err := c.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeBatch(req.Batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
