package rmqclient

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// RocketMQ's PermName bits, as a topic's route and TopicLayout.Perm carry them.
const (
	PermRead  = 1 << 2
	PermWrite = 1 << 1
)

// ReadableQueues returns the queues a consumer of topic reads now (asking the name servers
// directly, past the client library's route cache, and joining their routes: see route):
// queues 0 to ReadQueueNums-1 of every broker whose route grants read permission, sorted by
// broker and queue id. It differs from TopicQueues, the queues a producer writes, while a
// topic is drained: after its write permission was wiped, or with fewer write queues than
// read queues, messages remain to be read on queues nothing writes any more. A topic
// without a route, or without a readable queue, gives an error wrapping ErrNoRoute.
func (c *Client) ReadableQueues(ctx context.Context, topic string) ([]Queue, error) {
	return c.routedQueues(ctx, topic, PermRead, "readable", func(qd remoting.QueueData) int { return qd.ReadQueueNums })
}

// TopicLayout is a topic's queues on every broker master, as mqadmin updateTopic sets them.
type TopicLayout struct {
	Name        string
	ReadQueues  int // queues consumers read; 0 means 4
	WriteQueues int // queues producers write; 0 means ReadQueues
	Perm        int // PermRead|PermWrite bits; 0 means both
}

// UpdateTopic creates or changes a topic on every broker master to layout, and waits until
// the name servers route it so (or RouteTimeout passes). Fewer write queues than read
// queues, or Perm without PermWrite, drains a topic: producers stop writing the queues left
// out, which keep their messages for consumers.
func (c *Client) UpdateTopic(ctx context.Context, layout TopicLayout) error {
	if !rmqname.Topic(layout.Name) {
		return fmt.Errorf("%w: topic name %q must match %s", ErrInvalid, layout.Name, rmqname.TopicPattern)
	}
	if layout.ReadQueues <= 0 {
		layout.ReadQueues = 4
	}
	if layout.WriteQueues <= 0 {
		layout.WriteQueues = layout.ReadQueues
	}
	if layout.Perm == 0 {
		layout.Perm = PermRead | PermWrite
	}
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return fmt.Errorf("update topic %s: %w", layout.Name, err)
	}
	for _, b := range brokers {
		_, err := c.rpc.Call(ctx, b.Addr, remoting.CodeUpdateAndCreateTopic, map[string]string{
			"topic": layout.Name, "defaultTopic": "TBW102", "readQueueNums": strconv.Itoa(layout.ReadQueues),
			"writeQueueNums": strconv.Itoa(layout.WriteQueues), "perm": strconv.Itoa(layout.Perm),
			"topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"})
		if err != nil {
			return fmt.Errorf("update topic %s on broker %s (%s): %w", layout.Name, b.Name, b.Addr, err)
		}
	}
	return c.awaitLayout(ctx, layout, len(brokers))
}

// awaitLayout polls the name servers until their route of layout's topic (all of them
// together, see route) has layout on brokers brokers: a name server that lags behind the
// change (or has just restarted and knows only some brokers) cannot make UpdateTopic return
// while it still routes another layout.
func (c *Client) awaitLayout(ctx context.Context, layout TopicLayout, brokers int) error {
	return c.awaitTopic(ctx, "update", layout.Name, func(ctx context.Context) error {
		route, err := c.route(ctx, layout.Name)
		if err != nil {
			return err
		}
		n := 0
		for _, qd := range route.Queues {
			if qd.ReadQueueNums == layout.ReadQueues && qd.WriteQueueNums == layout.WriteQueues && qd.Perm == layout.Perm {
				n++
			}
		}
		if n < brokers {
			return fmt.Errorf("%d of %d brokers routed as asked", n, brokers)
		}
		return nil
	})
}
