package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// reportSink is mem-sink whose task reports through its ErrantRecordReporter, instead of
// writing, every record whose value has a negative "qty" while its test.id's reject flag is
// set.
type reportSinkConnector struct{ memSinkConnector }

func (reportSinkConnector) NewSinkTask() plugins.SinkTask { return &reportSinkTask{} }

type reportSinkTask struct {
	memSinkTask
	tctx   plugins.SinkTaskContext
	reject *atomic.Bool
}

var rejectFlags sync.Map // test.id → *atomic.Bool

func rejectFlag(id string) *atomic.Bool {
	f, _ := rejectFlags.LoadOrStore(id, new(atomic.Bool))
	return f.(*atomic.Bool)
}

func (t *reportSinkTask) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	t.tctx, t.reject = tctx, rejectFlag(cfg["test.id"])
	return t.memSinkTask.Start(ctx, tctx, cfg)
}

func (t *reportSinkTask) Put(ctx context.Context, recs []*schema.Record) error {
	var keep []*schema.Record
	for _, r := range recs {
		if v, ok := r.Value.(map[string]any); ok && t.reject.Load() && strings.HasPrefix(fmt.Sprint(v["qty"]), "-") {
			if err := t.tctx.ErrantRecordReporter().Report(ctx, r, errors.New("qty must not be negative")); err != nil {
				return err
			}
			continue
		}
		keep = append(keep, r)
	}
	return t.memSinkTask.Put(ctx, keep)
}

// dlqTestRegistry is testRegistry plus report-sink.
func dlqTestRegistry() *plugins.Registry {
	r := testRegistry()
	if err := r.Register(plugins.KindSink, "report-sink", nil, func() plugins.Connector {
		return &reportSinkConnector{memSinkConnector{memConnector{sink: true}}}
	}); err != nil {
		panic(err)
	}
	return r
}

// startDLQHerder is startHerder with dlqTestRegistry.
func startDLQHerder(t *testing.T, dir string) *herderEnv {
	t.Helper()
	h, err := NewStandalone(StandaloneConfig{
		WorkerID: "w-" + t.Name(), StoreDir: dir, KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 200 * time.Millisecond, StopTimeout: 10 * time.Second, AutoCreate: true,
		RestartBackoffMin: 200 * time.Millisecond, RestartBackoffMax: time.Second,
	}, rmqtest.Client(t), dlqTestRegistry(), quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	env := &herderEnv{h: h, cancel: cancel, done: make(chan error, 1), dir: dir}
	go func() { env.done <- h.Run(ctx) }()
	<-h.Started()
	return env
}

// waitDLQ waits until connector name's DLQ lists n records and returns them.
func waitDLQ(t *testing.T, h *Standalone, name string, n int) []restapi.DLQRecord {
	t.Helper()
	var page restapi.DLQPage
	require.Eventually(t, func() bool {
		var err error
		page, err = h.DLQList(context.Background(), name, "", 100)
		return err == nil && len(page.Records) >= n
	}, 60*time.Second, 100*time.Millisecond, "the DLQ of %s never held %d records", name, n)
	require.Len(t, page.Records, n)
	return page.Records
}

// TestDLQKeepsTheOriginalOfASinkReportedRecord: a record a sink task reports through its
// ErrantRecordReporter reaches the DLQ as the message its topic held — body, keys and
// properties — also when a transform renamed its topic; a replay then delivers those bytes
// again, which the sink (fixed meanwhile) writes. The DLQ used to hold fmt.Sprint of the
// converted value ("map[id:1 qty:-25]") without keys or properties, and a replay sent that.
func TestDLQKeepsTheOriginalOfASinkReportedRecord(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transforms map[string]string
	}{
		{"as consumed", nil},
		{"topic renamed by a transform", map[string]string{"transforms": "route", "transforms.route.type": "RegexRouter",
			"transforms.route.regex": "(.*)", "transforms.route.replacement": "renamed-$1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := rmqtest.Topic(t, 1)
			dlq := rmqtest.Name(t, "dlq")
			env := startDLQHerder(t, t.TempDir())
			defer env.stop(t)
			ctx := context.Background()
			id := rmqtest.Name(t, "state")
			rejectFlag(id).Store(true)

			p, err := rmqtest.Client(t).NewProducer("report", rmqclient.ProducerOptions{})
			require.NoError(t, err)
			defer p.Close()
			bad := []byte(`{"id":1,"qty":-25}`)
			for _, m := range []*rmqclient.Message{
				{Topic: topic, Body: bad, Keys: []string{"k1"}, Properties: map[string]string{"p": "v"}},
				{Topic: topic, Body: []byte(`{"id":2,"qty":3}`), Keys: []string{"k2"}},
			} {
				_, err := p.Send(ctx, m)
				require.NoError(t, err)
			}
			cfg := map[string]string{"connector.class": "report-sink", "test.id": id, "connect.topicnames": topic,
				"task.group.id": rmqtest.Group(t), "value.converter": "json", "value.converter.schemas.enable": "false",
				"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}
			for k, v := range tc.transforms {
				cfg[k] = v
			}
			_, err = env.h.CreateConnector(ctx, "s", cfg, "")
			require.NoError(t, err)

			recs := waitDLQ(t, env.h, "s", 1)
			got, err := env.h.DLQGet(ctx, "s", recs[0].ID)
			require.NoError(t, err)
			require.Equal(t, string(bad), string(got.Body), "the DLQ holds the original bytes")
			require.Equal(t, []string{"k1"}, got.Keys)
			require.Equal(t, "v", got.Properties["p"])
			require.Equal(t, topic, got.Topic, "the topic the record was consumed from")
			require.Equal(t, StagePut, got.Stage)
			require.Equal(t, "qty must not be negative", got.ExceptionMessage)

			rejectFlag(id).Store(false)
			res, err := env.h.DLQReplay(ctx, "s", nil, false)
			require.NoError(t, err)
			require.Equal(t, []string{got.ID}, res.Replayed, "refused: %v", res.Refused)
			st := stateFor(id)
			require.Eventually(t, func() bool {
				for _, r := range st.snapshot() {
					if v, ok := r.Value.(map[string]any); ok && fmt.Sprint(v["id"]) == "1" {
						return true
					}
				}
				return false
			}, 60*time.Second, 100*time.Millisecond, "the replayed record reached the sink")
			for _, r := range st.snapshot() {
				if v, ok := r.Value.(map[string]any); ok && fmt.Sprint(v["id"]) == "1" {
					require.Equal(t, "-25", fmt.Sprint(v["qty"]))
					require.Equal(t, "k1", r.Key)
					h, ok := r.Headers.Get("p")
					require.True(t, ok, "the original property came back as a header")
					require.Equal(t, "v", h.Value)
				}
			}
		})
	}
}
