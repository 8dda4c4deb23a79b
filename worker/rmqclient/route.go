package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// nsAnswer is one name server's answer to a request asked of all of them.
type nsAnswer[T any] struct {
	ns  string
	val T
	err error
}

// askAll asks every name server in nameServers at once and returns their answers in that
// order once each has answered or failed. Each ask is bounded by timeout as well as by
// ctx, and once one name server has answered, the others have nsGrace more to answer: a
// name server that lags answers within it on any working network, and one that never
// answers (a black-holed host) delays a call by nsGrace once another has answered, by up
// to timeout only when none has, wherever it stands in the configuration.
func askAll[T any](ctx context.Context, nameServers []string, timeout time.Duration,
	ask func(context.Context, string) (T, error)) []nsAnswer[T] {
	out := make([]nsAnswer[T], len(nameServers))
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var once sync.Once
	var asking errgroup.Group
	for i, ns := range nameServers {
		asking.Go(func() error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			v, err := ask(ctx, ns)
			out[i] = nsAnswer[T]{ns: ns, val: v, err: err}
			if err == nil {
				once.Do(func() { time.AfterFunc(nsGrace, cancelAll) })
			}
			return nil
		})
	}
	_ = asking.Wait()
	return out
}

// nsGrace is how long the other name servers have to answer once one has (see askAll).
const nsGrace = 500 * time.Millisecond

// route returns topic's route as the name servers that answer see it together (see
// mergeRoutes), asking them all at once: each routes the brokers that registered with it,
// and one that has just restarted knows only those that registered again since (every
// 30 s), so one answer can lack brokers the others route. "No route" is believed only from
// a name server that knows a broker, and only when none routes the topic; one that answers
// "no route" and knows no broker counts as unreachable. The error wraps ErrNoRoute when a
// name server that knows brokers said so and none routed the topic, else ErrUnreachable.
func (c *Client) route(ctx context.Context, topic string) (*remoting.TopicRoute, error) {
	answers := askAll(ctx, c.cfg.NameServers, c.cfg.OperationTimeout,
		func(ctx context.Context, ns string) (*remoting.TopicRoute, error) {
			return c.rpc.GetRoute(ctx, ns, topic)
		})
	var routes []*remoting.TopicRoute
	var unrouted []string // name servers that answered "no route"
	var errs []error
	for _, a := range answers {
		switch {
		case a.err == nil:
			routes = append(routes, a.val)
		case remoting.IsCode(a.err, remoting.CodeTopicNotExist):
			unrouted = append(unrouted, a.ns)
		default:
			errs = append(errs, fmt.Errorf("name server %s: %w", a.ns, a.err))
		}
	}
	if len(routes) > 0 {
		return mergeRoutes(routes), nil
	}
	believed := false
	for _, a := range askAll(ctx, unrouted, c.cfg.OperationTimeout,
		func(ctx context.Context, ns string) (struct{}, error) { return struct{}{}, c.knowsBrokers(ctx, ns) }) {
		if a.err == nil {
			believed = true
			continue
		}
		errs = append(errs, fmt.Errorf("name server %s: no route for %s, not believed: %w", a.ns, topic, a.err))
	}
	if believed {
		return nil, fmt.Errorf("%w: %s", ErrNoRoute, topic)
	}
	return nil, fmt.Errorf("route of %s: %w: %w", topic, ErrUnreachable, errors.Join(errs...))
}

// mergeRoutes joins the routes several name servers gave for one topic, in configuration
// order, so that a name server that lags (restarted, and not yet registered with again by
// every broker) cannot shrink the route: the joined route lists every queue any of them
// lists, readable or writable. One route is returned as it is.
//
// Where routes give one broker different queue data, the joined data has the most read
// queues, the most write queues and every permission any of them gives. A route carries no
// version or time, so the newest cannot be told; brokers register with every name server at
// once, so answers differ only while a topic change reaches them (or, for a name server
// that missed it, until the next registration, 30 s later). The larger view errs toward
// listing a queue that is going (a read finds nothing, or is refused, until the change
// arrives) rather than hiding one that holds messages (consumers and the replicator would
// drop it); it may pair counts no single name server gave while a change that grows one
// and shrinks the other is under way. UpdateTopic waits until the joined route shows its
// layout, so after shrinking a topic it returns once every answering name server has the
// change. A broker's BrokerData (its addresses) is that of the first route that has the
// broker, the name server Brokers takes its master from too: a broker's registration
// brings its addresses and its topics to a name server together.
//
// A broker gone for good still leaves the joined route: shut down gracefully it unregisters
// from every name server at once, and one that stopped registering expires from each name
// server 120 s after its last registration there; the joined route drops it when the last
// name server that still had it does.
func mergeRoutes(routes []*remoting.TopicRoute) *remoting.TopicRoute {
	if len(routes) == 1 {
		return routes[0]
	}
	queues := make(map[string]remoting.QueueData)
	brokers := make(map[string]remoting.BrokerData)
	for _, r := range routes {
		for _, qd := range r.Queues {
			if m, ok := queues[qd.BrokerName]; ok {
				qd.ReadQueueNums = max(qd.ReadQueueNums, m.ReadQueueNums)
				qd.WriteQueueNums = max(qd.WriteQueueNums, m.WriteQueueNums)
				qd.Perm |= m.Perm
			}
			queues[qd.BrokerName] = qd
		}
		for _, bd := range r.Brokers {
			if _, ok := brokers[bd.BrokerName]; !ok {
				brokers[bd.BrokerName] = bd
			}
		}
	}
	out := &remoting.TopicRoute{}
	for _, qd := range queues {
		out.Queues = append(out.Queues, qd)
	}
	for _, bd := range brokers {
		out.Brokers = append(out.Brokers, bd)
	}
	sort.Slice(out.Queues, func(i, j int) bool { return out.Queues[i].BrokerName < out.Queues[j].BrokerName })
	sort.Slice(out.Brokers, func(i, j int) bool { return out.Brokers[i].BrokerName < out.Brokers[j].BrokerName })
	return out
}

// routedQueues returns queues 0 to nums-1 of every broker whose route for topic (see route)
// grants perm, sorted by broker and queue id; what names the queues in the error when
// there is none, which wraps ErrNoRoute.
func (c *Client) routedQueues(ctx context.Context, topic string, perm int, what string, nums func(remoting.QueueData) int) ([]Queue, error) {
	route, err := c.route(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []Queue
	for _, qd := range route.Queues {
		if qd.Perm&perm == 0 {
			continue
		}
		for i := 0; i < nums(qd); i++ {
			out = append(out, Queue{Topic: topic, BrokerName: qd.BrokerName, QueueID: i})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no %s queue", ErrNoRoute, topic, what)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].BrokerName != out[j].BrokerName {
			return out[i].BrokerName < out[j].BrokerName
		}
		return out[i].QueueID < out[j].QueueID
	})
	return out, nil
}
