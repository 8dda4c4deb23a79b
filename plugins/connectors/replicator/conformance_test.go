package replicator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestReplicatorConformance(t *testing.T) {
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return replicator.NewSourceConnector() },
		Setup: func(t *testing.T) map[string]string {
			topic := rmqtest.SecondTopic(t, 1)
			return map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
				"source.topics": topic, "emit.offset.syncs.enabled": "false", "poll.batch.size": "37"}
		},
		Append: func(t *testing.T, cfg map[string]string, first, n int) {
			p, err := rmqtest.SecondClient(t).NewProducer("conformance", rmqclient.ProducerOptions{})
			require.NoError(t, err)
			defer p.Close()
			for i := first; i < first+n; i++ {
				_, err := p.Send(context.Background(), &rmqclient.Message{Topic: cfg["source.topics"],
					Body: fmt.Appendf(nil, "msg %d", i), Keys: []string{fmt.Sprint("k", i)}, Tag: "tag"})
				require.NoError(t, err)
			}
		},
		IgnoreGoroutines: rmqtest.ClientLibraryGoroutines(),
		Check: func(t *testing.T, i int, r *schema.Record) {
			require.Equal(t, fmt.Sprintf("msg %d", i), string(r.Value.([]byte)))
			k, _ := r.Headers.Get("KEYS")
			require.Equal(t, fmt.Sprint("k", i), k.Value)
		},
	})
}
