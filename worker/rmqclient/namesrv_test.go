package rmqclient_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remotingtest"
)

// fakeNameServer answers every route request "no route" (code 17) and cluster-info requests
// with clusterInfo: `{"brokerAddrTable":{},"clusterAddrTable":{}}` is a name server that
// has just restarted and knows no broker yet (they register again every 30 s).
func fakeNameServer(t *testing.T, clusterInfo string) string {
	return remotingtest.Serve(t, func(req *remoting.Command) *remoting.Command {
		resp := &remoting.Command{}
		switch req.Code {
		case remoting.CodeGetBrokerClusterInfo:
			resp.Body = []byte(clusterInfo)
		case remoting.CodeGetRouteInfoByTopic:
			resp.Code, resp.Remark = remoting.CodeTopicNotExist, "No topic route info in name server for the topic"
		default:
			resp.Code, resp.Remark = 1, "not a name server request"
		}
		return resp
	})
}

const (
	noBrokers      = `{"brokerAddrTable":{},"clusterAddrTable":{}}`
	oneBroker      = `{"brokerAddrTable":{"b":{"cluster":"c","brokerName":"b","brokerAddrs":{0:"127.0.0.1:1"}}},"clusterAddrTable":{"c":["b"]}}`
	routedBySecond = "the topic exists on the second name server"
)

// TestRestartedNameServerIsNotBelieved: a name server that knows no broker (one restarting)
// and answers "no route" for every topic is not taken at its word while another name server
// routes the topic: topics do not look deleted (a replicator dropping them, a CDC history
// taken as gone, CreateTopic creating on no broker) and the brokers are not "none". Its
// "no route" counts as unreachable; that of a name server that knows brokers is believed.
func TestRestartedNameServerIsNotBelieved(t *testing.T) {
	second := rmqtest.NameServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := rmqtest.Topic(t, 2)
	want, err := rmqtest.Client(t).TopicQueues(ctx, topic)
	require.NoError(t, err)
	wantBrokers, err := rmqtest.Client(t).Brokers(ctx)
	require.NoError(t, err)

	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{fakeNameServer(t, noBrokers), second},
		Instance: "restarted-ns", RouteTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer c.Close()

	got, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err, routedBySecond)
	require.Equal(t, want, got)
	readable, err := c.ReadableQueues(ctx, topic)
	require.NoError(t, err, routedBySecond)
	require.Equal(t, want, readable)
	brokers, err := c.Brokers(ctx)
	require.NoError(t, err)
	require.Equal(t, wantBrokers, brokers)
	require.NoError(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: topic, ReadQueues: 2, WriteQueues: 1}),
		"the second name server routes the new layout")
	created := rmqtest.Name(t, "t")
	require.NoError(t, c.CreateTopic(ctx, rmqclient.TopicSpec{Name: created, Queues: 1}))

	_, err = c.TopicQueues(ctx, rmqtest.Name(t, "missing"))
	require.ErrorIs(t, err, rmqclient.ErrNoRoute, "the second name server knows brokers and has no route")

	alone, err := rmqclient.New(rmqclient.Config{NameServers: []string{fakeNameServer(t, noBrokers)}, Instance: "restarted-ns-alone"})
	require.NoError(t, err)
	defer alone.Close()
	_, err = alone.TopicQueues(ctx, topic)
	require.ErrorIs(t, err, rmqclient.ErrUnreachable)
	require.NotErrorIs(t, err, rmqclient.ErrNoRoute, "a name server that knows no broker is not believed")
	require.ErrorContains(t, err, "knows no broker")
	_, err = alone.Brokers(ctx)
	require.ErrorIs(t, err, rmqclient.ErrUnreachable)

	knowing, err := rmqclient.New(rmqclient.Config{NameServers: []string{fakeNameServer(t, oneBroker)}, Instance: "knowing-ns"})
	require.NoError(t, err)
	defer knowing.Close()
	_, err = knowing.TopicQueues(ctx, topic)
	require.ErrorIs(t, err, rmqclient.ErrNoRoute, "a name server that knows brokers is believed")
}

// routingNameServer answers cluster-info requests with clusterInfo and every route request
// with route (a TopicRoute body), whatever the topic: a name server whose view of the
// brokers is fixed, such as one that has just restarted and knows only the brokers that
// registered again since.
func routingNameServer(t *testing.T, clusterInfo, route string) string {
	return remotingtest.Serve(t, func(req *remoting.Command) *remoting.Command {
		resp := &remoting.Command{}
		switch req.Code {
		case remoting.CodeGetBrokerClusterInfo:
			resp.Body = []byte(clusterInfo)
		case remoting.CodeGetRouteInfoByTopic:
			resp.Body = []byte(route)
		default:
			resp.Code, resp.Remark = 1, "not a name server request"
		}
		return resp
	})
}

// topicChanges counts the topic create/update requests fake brokers received, by broker.
type topicChanges struct {
	mu sync.Mutex
	n  map[string]int
}

// broker serves a fake broker named name that accepts every request, counting topic
// creates and updates.
func (tc *topicChanges) broker(t *testing.T, name string) string {
	return remotingtest.Serve(t, func(req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodeUpdateAndCreateTopic {
			tc.mu.Lock()
			tc.n[name]++
			tc.mu.Unlock()
		}
		return &remoting.Command{}
	})
}

func (tc *topicChanges) count() map[string]int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := make(map[string]int, len(tc.n))
	for k, v := range tc.n {
		out[k] = v
	}
	return out
}

// twoBrokerViews returns the cluster info and route JSON of a name server that knows only
// broker a (at addrA), and those of one that knows brokers a and b, each routing queues
// queues (read and write, read/write permission) on each broker it knows.
func twoBrokerViews(addrA, addrB string, queues int) (partialCI, partialRoute, fullCI, fullRoute string) {
	brokerData := func(name, addr string) string {
		return fmt.Sprintf(`{"cluster":"c","brokerName":%q,"brokerAddrs":{0:%q}}`, name, addr)
	}
	queueData := func(name string) string {
		return fmt.Sprintf(`{"brokerName":%q,"readQueueNums":%d,"writeQueueNums":%d,"perm":6,"topicSysFlag":0}`, name, queues, queues)
	}
	a, b := brokerData("a", addrA), brokerData("b", addrB)
	partialCI = fmt.Sprintf(`{"brokerAddrTable":{"a":%s},"clusterAddrTable":{"c":["a"]}}`, a)
	fullCI = fmt.Sprintf(`{"brokerAddrTable":{"a":%s,"b":%s},"clusterAddrTable":{"c":["a","b"]}}`, a, b)
	partialRoute = fmt.Sprintf(`{"queueDatas":[%s],"brokerDatas":[%s]}`, queueData("a"), a)
	fullRoute = fmt.Sprintf(`{"queueDatas":[%s,%s],"brokerDatas":[%s,%s]}`, queueData("b"), queueData("a"), b, a)
	return
}

// TestPartialNameServerDoesNotShrinkTheRoute: a name server that has just restarted and
// knows only broker a (b registers again within 30 s) routes the topic on a only. Its
// answer is joined with the others', whatever its place in the configuration: the queues
// on b do not vanish (consumers rebalancing away from them, the replicator dropping them),
// and b stays a broker, so its queues' addresses resolve.
func TestPartialNameServerDoesNotShrinkTheRoute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	partialCI, partialRoute, fullCI, fullRoute := twoBrokerViews("127.0.0.1:1", "127.0.0.1:2", 2)
	partial := routingNameServer(t, partialCI, partialRoute)
	full := routingNameServer(t, fullCI, fullRoute)
	var want []rmqclient.Queue
	for _, b := range []string{"a", "b"} {
		for i := range 2 {
			want = append(want, rmqclient.Queue{Topic: "t", BrokerName: b, QueueID: i})
		}
	}
	wantBrokers := []rmqclient.Broker{{Name: "a", Addr: "127.0.0.1:1", Cluster: "c"}, {Name: "b", Addr: "127.0.0.1:2", Cluster: "c"}}

	for _, order := range [][]string{{partial, full}, {full, partial}} {
		c, err := rmqclient.New(rmqclient.Config{NameServers: order, Instance: "partial-ns"})
		require.NoError(t, err)
		defer c.Close()
		got, err := c.TopicQueues(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, want, got, "writable queues with name servers %v", order)
		got, err = c.ReadableQueues(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, want, got, "readable queues with name servers %v", order)
		brokers, err := c.Brokers(ctx)
		require.NoError(t, err)
		require.Equal(t, wantBrokers, brokers, "brokers with name servers %v", order)
	}

	alone, err := rmqclient.New(rmqclient.Config{NameServers: []string{partial}, Instance: "partial-ns-alone"})
	require.NoError(t, err)
	defer alone.Close()
	got, err := alone.TopicQueues(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, want[:2], got, "a single name server's route is the route")
}

// TestConflictingNameServersJoinTheLargerLayout: two name servers that route one broker
// differently (a topic change still reaching one of them) give the most read queues, the
// most write queues and every permission either gives: neither hides a queue the other
// lists.
func TestConflictingNameServersJoinTheLargerLayout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ci := `{"brokerAddrTable":{"a":{"cluster":"c","brokerName":"a","brokerAddrs":{0:"127.0.0.1:1"}}},"clusterAddrTable":{"c":["a"]}}`
	bd := `{"cluster":"c","brokerName":"a","brokerAddrs":{0:"127.0.0.1:1"}}`
	drained := routingNameServer(t, ci, `{"queueDatas":[{"brokerName":"a","readQueueNums":4,"writeQueueNums":1,"perm":4}],"brokerDatas":[`+bd+`]}`)
	lagging := routingNameServer(t, ci, `{"queueDatas":[{"brokerName":"a","readQueueNums":2,"writeQueueNums":2,"perm":6}],"brokerDatas":[`+bd+`]}`)
	queues := func(n int) []rmqclient.Queue {
		var out []rmqclient.Queue
		for i := range n {
			out = append(out, rmqclient.Queue{Topic: "t", BrokerName: "a", QueueID: i})
		}
		return out
	}
	for _, order := range [][]string{{drained, lagging}, {lagging, drained}} {
		c, err := rmqclient.New(rmqclient.Config{NameServers: order, Instance: "conflicting-ns"})
		require.NoError(t, err)
		defer c.Close()
		w, err := c.TopicQueues(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, queues(2), w, "the lagging name server's writable queues, name servers %v", order)
		r, err := c.ReadableQueues(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, queues(4), r, "the drained name server's readable queues, name servers %v", order)
	}
}

// TestTopicChangesReachBrokersAPartialNameServerMisses: CreateTopic and UpdateTopic change
// the topic on every broker any name server knows, and wait for the route of all of them:
// a restarted name server that knows only broker a, configured first, does not make them
// change the topic on a alone and return (its route shows the one broker it knows as asked).
func TestTopicChangesReachBrokersAPartialNameServerMisses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	changes := &topicChanges{n: map[string]int{}}
	partialCI, partialRoute, fullCI, fullRoute := twoBrokerViews(changes.broker(t, "a"), changes.broker(t, "b"), 1)
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{
		routingNameServer(t, partialCI, partialRoute), routingNameServer(t, fullCI, fullRoute)},
		Instance: "partial-ns-create", RouteTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, c.CreateTopic(ctx, rmqclient.TopicSpec{Name: "t", Queues: 1}))
	require.Equal(t, map[string]int{"a": 1, "b": 1}, changes.count(), "created on both brokers")
	require.NoError(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: "t", ReadQueues: 1}))
	require.Equal(t, map[string]int{"a": 2, "b": 2}, changes.count(), "updated on both brokers")
}

// TestUpdateTopicWaitsForEveryNameServer: UpdateTopic shrinking a topic returns once every
// name server routes the new layout, not once one does: the route readers join the name
// servers' views (the larger layout wins), so returning earlier would leave TopicQueues
// listing the write queues just taken away. The lagging name server here has the change from its
// fourth route request on.
func TestUpdateTopicWaitsForEveryNameServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	changes := &topicChanges{n: map[string]int{}}
	addr := changes.broker(t, "a")
	bd := fmt.Sprintf(`{"cluster":"c","brokerName":"a","brokerAddrs":{0:%q}}`, addr)
	ci := `{"brokerAddrTable":{"a":` + bd + `},"clusterAddrTable":{"c":["a"]}}`
	route := func(write int) string {
		return fmt.Sprintf(`{"queueDatas":[{"brokerName":"a","readQueueNums":4,"writeQueueNums":%d,"perm":6}],"brokerDatas":[%s]}`, write, bd)
	}
	changed := routingNameServer(t, ci, route(2))
	var mu sync.Mutex
	asked := 0
	lagging := remotingtest.Serve(t, func(req *remoting.Command) *remoting.Command {
		resp := &remoting.Command{}
		switch req.Code {
		case remoting.CodeGetBrokerClusterInfo:
			resp.Body = []byte(ci)
		case remoting.CodeGetRouteInfoByTopic:
			mu.Lock()
			asked++
			write := 4
			if asked > 3 {
				write = 2
			}
			mu.Unlock()
			resp.Body = []byte(route(write))
		}
		return resp
	})
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{changed, lagging}, Instance: "lagging-ns-update"})
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: "t", ReadQueues: 4, WriteQueues: 2}))
	w, err := c.TopicQueues(ctx, "t")
	require.NoError(t, err)
	require.Len(t, w, 2, "the write queues taken away are not listed once UpdateTopic returned")
}

// TestSilentNameServerDelaysOnlyByTheGrace: a name server that takes requests and never
// answers (a black-holed host) does not hold a route or broker lookup for the operation
// timeout once another name server has answered: the others get a short grace, then the
// answer is what those that answered gave.
func TestSilentNameServerDelaysOnlyByTheGrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	go func() { // takes connections and reads nothing back; ends when the listener closes
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	_, _, fullCI, fullRoute := twoBrokerViews("127.0.0.1:1", "127.0.0.1:2", 2)
	full := routingNameServer(t, fullCI, fullRoute)
	const timeout = 30 * time.Second
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{silent.Addr().String(), full},
		OperationTimeout: timeout, Instance: "silent-ns"})
	require.NoError(t, err)
	defer c.Close()

	start := time.Now()
	qs, err := c.TopicQueues(ctx, "t")
	require.NoError(t, err)
	require.Len(t, qs, 4)
	brokers, err := c.Brokers(ctx)
	require.NoError(t, err)
	require.Len(t, brokers, 2)
	require.Less(t, time.Since(start), timeout/2, "the silent name server held the lookups for its timeout")
}

// TestTopicListJoinsEveryNameServer: a name server that has just restarted lists only the
// topics of the brokers that registered with it again; the topics the others list do not
// vanish from ListTopics (the replicator's regex mode would take them as deleted), whatever
// the order of the name servers.
func TestTopicListJoinsEveryNameServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listing := func(topics string) string {
		return remotingtest.Serve(t, func(req *remoting.Command) *remoting.Command {
			resp := &remoting.Command{}
			if req.Code == 206 { // GET_ALL_TOPIC_LIST_FROM_NAMESERVER
				resp.Body = []byte(`{"topicList":` + topics + `}`)
			} else {
				resp.Code, resp.Remark = 1, "not asked here"
			}
			return resp
		})
	}
	partial, full := listing(`["a-topic","TBW102"]`), listing(`["b-topic","a-topic","TBW102"]`)
	for _, order := range [][]string{{partial, full}, {full, partial}} {
		c, err := rmqclient.New(rmqclient.Config{NameServers: order, Instance: "topic-list"})
		require.NoError(t, err)
		defer c.Close()
		got, err := c.ListTopics(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"TBW102", "a-topic", "b-topic"}, got, "name servers %v", order)
	}
}
