package rmqclient_test

import (
	"context"
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
