package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
)

// With ordering, a record's ExtTargetQueue picks its queue (hint n+1) and records of
// different target queues never share a chunk; records without it keep the partition hash.
func TestSourceTargetQueueExtension(t *testing.T) {
	counters := &taskCounters{}
	chain, err := transforms.ParseChain(map[string]string{}, nil)
	require.NoError(t, err)
	s := &sourceRunner{chain: chain, conv: testConverters(t), defaultTopic: "t", validTopics: map[string]bool{},
		ordered: true, counters: counters, errs: &errorReporter{policy: errorPolicy{}, log: quiet(), metrics: counters}}
	rec := func(q string) *schema.Record {
		r := schema.NewRecord("", nil, nil, schema.StringSchema, "v")
		r.SourcePartition = map[string]any{"p": "x"}
		if q != "" {
			r.Extensions = map[string]string{plugins.ExtTargetQueue: q}
		}
		return r
	}
	b, err := s.convertBatch(context.Background(), []*schema.Record{rec("2"), rec("2"), rec("0"), rec("")})
	require.NoError(t, err)
	require.Len(t, b.chunks, 3, "a chunk per target queue, then the hashed one")
	m, _, _, err := s.convert(context.Background(), rec("5"))
	require.NoError(t, err)
	require.Equal(t, 6, m.QueueHint)
	require.Empty(t, m.ShardingKey)
	m, _, _, err = s.convert(context.Background(), rec(""))
	require.NoError(t, err)
	require.Zero(t, m.QueueHint)
	require.NotEmpty(t, m.ShardingKey)
	_, _, _, err = s.convert(context.Background(), rec("-1"))
	require.ErrorContains(t, err, plugins.ExtTargetQueue)
}
