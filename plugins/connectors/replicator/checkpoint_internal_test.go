package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// denyGroup answers for the source cluster as its client does, except that reading one
// group's offsets is refused, as a broker whose ACL denies the group refuses it.
type denyGroup struct {
	groupOffsets
	group string
}

var errDenied = errors.New("code 16: no permission for group")

func (d denyGroup) GroupOffset(ctx context.Context, group string, q rmqclient.Queue) (int64, bool, error) {
	if group == d.group {
		return 0, false, errDenied
	}
	return d.groupOffsets.GroupOffset(ctx, group, q)
}

type syncedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCheckpointGroupsStandAlone: a group whose offsets cannot be read (ACL denies it) is left
// out of the round with a warning naming it and the error; the other groups' checkpoints are
// written and applied every round.
func TestCheckpointGroupsStandAlone(t *testing.T) {
	ctx := context.Background()
	a, b := rmqtest.SecondClient(t), rmqtest.Client(t)
	src, target, syncs := rmqtest.SecondTopic(t, 2), rmqtest.Topic(t, 2), rmqtest.Topic(t, 1)
	denied, fine := rmqtest.Group(t)+"-denied", rmqtest.Group(t)

	sqs, err := a.TopicQueues(ctx, src)
	require.NoError(t, err)
	tqs, err := b.TopicQueues(ctx, target)
	require.NoError(t, err)
	require.Len(t, tqs, len(sqs))
	p, err := b.NewProducer("ckpt-groups", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i, q := range sqs {
		body, err := json.Marshal(OffsetSync{Cluster: "A", Topic: src, Broker: q.BrokerName, Queue: q.QueueID,
			TargetTopic: target, TargetBroker: tqs[i].BrokerName, TargetQueue: tqs[i].QueueID})
		require.NoError(t, err)
		_, err = p.Send(ctx, &rmqclient.Message{Topic: syncs, Body: body})
		require.NoError(t, err)
		for _, g := range []string{denied, fine} {
			require.NoError(t, a.SetGroupOffset(ctx, g, q, 0))
		}
	}

	c := NewCheckpointConnector()
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "dest.endpoint": rmqtest.NameServer(t),
		"source.cluster.alias": "A", "target.cluster.alias": "B", "source.topics": src,
		"offset.syncs.topic": syncs, "checkpoints.topic": rmqtest.Topic(t, 1),
		"sync.gids": denied + ";" + fine, "sync.group.offsets.enabled": "true", "emit.checkpoints.interval": "100ms"}
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	defer c.Stop(ctx)
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	task := c.NewSourceTask().(*checkpointTask)
	var logs syncedBuffer
	sc := conformance.SourceContextFor(t, c.Spec(), nil, tcs[0])
	sc.Log = slog.New(slog.NewTextHandler(&logs, nil))
	require.NoError(t, task.Start(ctx, sc, tcs[0]))
	defer task.Stop(ctx)
	task.offsets = denyGroup{task.offsets, denied}

	groups := map[string]int{}
	require.Eventually(t, func() bool {
		recs, err := task.Poll(ctx)
		require.NoError(t, err)
		for _, r := range recs {
			var cp Checkpoint
			require.NoError(t, json.Unmarshal(r.Value.([]byte), &cp))
			groups[cp.Group]++
		}
		return groups[fine] >= len(sqs)
	}, 30*time.Second, 10*time.Millisecond, "checkpoints of %s; log: %s", fine, logs.String())
	require.Zero(t, groups[denied])
	require.Contains(t, logs.String(), "group="+denied)
	require.Contains(t, logs.String(), errDenied.Error())
	for _, q := range tqs {
		require.Eventually(t, func() bool {
			_, found, err := b.GroupOffset(ctx, fine, q)
			return err == nil && found
		}, 10*time.Second, 50*time.Millisecond, "group %s has no offset in %s on the target", fine, q)
	}
}
