package replicator

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// fakeTarget is a target cluster as the connector sees it: broker masters and, per topic, a
// number of queues on each broker. CreateTopic makes spec.Queues queues on every broker, as
// the client does.
type fakeTarget struct {
	brokers []string
	topics  map[string]map[string]int // topic → broker → queues
}

func (f *fakeTarget) Brokers(context.Context) ([]rmqclient.Broker, error) {
	var out []rmqclient.Broker
	for _, b := range f.brokers {
		out = append(out, rmqclient.Broker{Name: b, Addr: b + ":10911"})
	}
	return out, nil
}

func (f *fakeTarget) TopicQueues(_ context.Context, topic string) ([]rmqclient.Queue, error) {
	per, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("%w: %s", rmqclient.ErrNoRoute, topic)
	}
	var out []rmqclient.Queue
	for _, b := range slices.Sorted(maps.Keys(per)) {
		for id := range per[b] {
			out = append(out, rmqclient.Queue{Topic: topic, BrokerName: b, QueueID: id})
		}
	}
	return out, nil
}

func (f *fakeTarget) CreateTopic(_ context.Context, spec rmqclient.TopicSpec) error {
	per := map[string]int{}
	for _, b := range f.brokers {
		per[b] = cmp.Or(spec.Queues, 4)
	}
	f.topics[spec.Name] = per
	return nil
}

func (*fakeTarget) Close() error { return nil }

// A target topic the connector creates holds the source topic's queue count in all, spread
// over the target's brokers (rounded up to a whole number per broker), not that count on
// every broker: each source queue gets a target queue of its own, and at most one queue per
// broker is left without a source queue. The target queue of a source queue is the one the
// worker picks for its index: the target's queues taken by queue id, then broker name,
// modulo their count.
func TestCreatedTargetTopicSpreadsTheSourceQueuesOverTheBrokers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ source, sourceBrokers, targetBrokers, want int }{
		{4, 2, 2, 4},
		{4, 1, 2, 4},
		{5, 2, 2, 6},
		{8, 2, 3, 9},
		{3, 3, 1, 3},
		{2, 2, 3, 3},
		{16, 4, 4, 16},
	} {
		t.Run(fmt.Sprintf("%d source queues on %d brokers, %d target brokers", tc.source, tc.sourceBrokers, tc.targetBrokers), func(t *testing.T) {
			target := &fakeTarget{topics: map[string]map[string]int{}}
			for i := range tc.targetBrokers {
				target.brokers = append(target.brokers, fmt.Sprintf("broker-%c", 'a'+i))
			}
			var source []rmqclient.Queue
			for i := range tc.source {
				source = append(source, rmqclient.Queue{Topic: "orders", BrokerName: fmt.Sprintf("src-%d", i%tc.sourceBrokers), QueueID: i / tc.sourceBrokers})
			}
			c := &SourceConnector{cctx: conformance.NewConnectorContext(), cfg: map[string]string{"connector.class": SourceName},
				sel: &selection{srcAlias: "A", dstAlias: "B", format: DefaultTopicFormat}, target: target, queues: source}
			require.NoError(t, c.ensureTarget(ctx, "orders", len(source)))

			tqs, err := target.TopicQueues(ctx, "A_orders")
			require.NoError(t, err)
			require.Len(t, tqs, tc.want)
			slices.SortFunc(tqs, func(a, b rmqclient.Queue) int {
				return cmp.Or(cmp.Compare(a.QueueID, b.QueueID), strings.Compare(a.BrokerName, b.BrokerName))
			})
			tcs, err := c.TaskConfigs(3)
			require.NoError(t, err)
			copiedFrom := map[rmqclient.Queue]rmqclient.Queue{} // target queue → its source queue
			for _, cfg := range tcs {
				var parts []taskQueue
				require.NoError(t, json.Unmarshal([]byte(cfg[keyQueues]), &parts))
				for _, p := range parts {
					to, from := tqs[p.Index%len(tqs)], rmqclient.Queue{Topic: p.Topic, BrokerName: p.Broker, QueueID: p.Queue}
					other, shared := copiedFrom[to]
					require.False(t, shared, "%s and %s share target queue %s", from, other, to)
					copiedFrom[to] = from
				}
			}
			require.Len(t, copiedFrom, tc.source)
		})
	}
}

// A target topic that exists is left as it is, whatever its queue count; one with fewer
// queues than its source is warned about.
func TestExistingTargetTopicIsKept(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	cctx := conformance.NewConnectorContext()
	cctx.Log = slog.New(slog.NewTextHandler(&logs, nil))
	target := &fakeTarget{brokers: []string{"broker-a", "broker-b"},
		topics: map[string]map[string]int{"A_orders": {"broker-a": 1, "broker-b": 1}, "A_audit": {"broker-a": 8, "broker-b": 8}}}
	c := &SourceConnector{cctx: cctx, sel: &selection{srcAlias: "A", dstAlias: "B", format: DefaultTopicFormat}, target: target}
	require.NoError(t, c.ensureTarget(ctx, "orders", 4))
	require.NoError(t, c.ensureTarget(ctx, "audit", 4))
	require.Equal(t, map[string]map[string]int{"A_orders": {"broker-a": 1, "broker-b": 1}, "A_audit": {"broker-a": 8, "broker-b": 8}},
		target.topics)
	require.Equal(t, 1, strings.Count(logs.String(), "target topic has fewer queues than its source"), logs.String())
	require.Contains(t, logs.String(), "topic=A_orders queues=2 source_queues=4")
}
