package worker

import (
	"context"
	"strconv"
	"testing"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

// Scratch: the worker-side CPU of figure 1 per record, broker excluded: generator Poll, then
// convertBatch and the position bookkeeping of deliver.
func BenchmarkZZSourceCPU(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			ctx := context.Background()
			kc, err := converter.FromConfig(map[string]string{"key.converter": "string"}, "key.converter", true)
			if err != nil {
				b.Fatal(err)
			}
			vc, err := converter.FromConfig(map[string]string{"value.converter": "bytearray"}, "value.converter", false)
			if err != nil {
				b.Fatal(err)
			}
			s := &sourceRunner{conv: converters{kc, vc}, defaultTopic: "t", validTopics: map[string]bool{},
				pending: map[string]plugins.PartitionPosition{}}
			task := generator.NewSourceTask()
			if err := task.Start(ctx, nil, map[string]string{"topic": "t", "record.size": strconv.Itoa(size)}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if n == 0 {
					recs, err := task.Poll(ctx)
					if err != nil {
						b.Fatal(err)
					}
					cb, err := s.convertBatch(ctx, recs)
					if err != nil {
						b.Fatal(err)
					}
					var lastPart map[string]any
					var lastKey string
					for _, r := range cb.recs {
						k := lastKey
						if lastPart == nil || !samePartition(lastPart, r.SourcePartition) {
							k, _ = partitionKey(r.SourcePartition)
							lastPart, lastKey = r.SourcePartition, k
						}
						s.pending[k] = plugins.PartitionPosition{Partition: r.SourcePartition, Offset: r.SourceOffset}
					}
					n = len(recs)
				}
				n--
			}
		})
	}
}
