package replicator

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func values(t *testing.T, spec *plugins.ConfigSpec, cfg map[string]string) plugins.Values {
	t.Helper()
	v, err := spec.Parse(cfg)
	require.NoError(t, err)
	return v
}

// A RocketMQ Connect replicator config parses unchanged: src.* and dest.* keys, the topic
// and tag pairs, the regions and clouds.
func TestJavaConfigAccepted(t *testing.T) {
	cfg := map[string]string{
		"connector.class": "org.apache.rocketmq.replicator.ReplicatorSourceConnector",
		"src.cluster":     "DefaultCluster", "src.endpoint": "127.0.0.2:9876", "src.region": "regionA", "src.cloud": "c1",
		"dest.acl.enable": "false", "dest.topic": "TopicTest", "max.tasks": "2", "src.topictags": "TopicTest,TagA||TagB;Other,*",
		"src.acl.enable": "true", "src.access.key": "ak", "src.secret.key": "sk", "dest.endpoint": "127.0.0.1:9876",
		"dest.region": "regionB", "dest.cluster": "Target", "errors.tolerance": "all", "dest.cloud": "dc",
		"source.cluster": "x", "source.cloud": "y",
	}
	require.NoError(t, NewSourceConnector().Validate(cfg))
	v := values(t, sourceSpec, cfg)
	sc := sourceCluster(v)
	require.Equal(t, clusterConf{alias: "DefaultCluster", namesrvs: []string{"127.0.0.2:9876"}, ak: "ak", sk: "sk"}, sc)
	require.Equal(t, []string{"127.0.0.1:9876"}, targetCluster(v).namesrvs)
	sel, err := newSelection(v)
	require.NoError(t, err)
	require.Equal(t, []string{"TopicTest", "Other"}, sel.listed)
	require.Equal(t, "TopicTest", sel.rename("Other"), "dest.topic sends everything to one topic")
	f := sel.tagFilter("TopicTest")
	require.True(t, f("TagB"))
	require.False(t, f("TagC"))
	require.Nil(t, sel.tagFilter("Other"))

	cp := map[string]string{"src.endpoint": "127.0.0.1:9876", "dest.endpoint": "127.0.0.2:9876", "src.topictags": "TopicTest",
		"sync.gids": "test_gid1", "src.cluster": "A", "dest.cluster": "B",
		"key.converter": "org.apache.rocketmq.connect.runtime.converter.record.json.JsonConverter"}
	require.NoError(t, NewCheckpointConnector().Validate(cp))
	require.Equal(t, "test_gid1", values(t, checkpointSpec, cp).String(KeyGroups))
}

// Both local clusters are named DefaultCluster: aliases that end up equal are refused,
// naming the key, since loop prevention and offset syncs tell clusters apart by alias.
func TestAliasesMustDiffer(t *testing.T) {
	err := NewSourceConnector().Validate(map[string]string{"src.endpoint": "a:1", "src.cluster": "DefaultCluster",
		"dest.cluster": "DefaultCluster", "source.topics": "t"})
	require.ErrorContains(t, err, KeyTargetAlias)
	require.NoError(t, NewSourceConnector().Validate(map[string]string{"src.endpoint": "a:1", "src.cluster": "DefaultCluster",
		"dest.cluster": "DefaultCluster", "source.cluster.alias": "A", "source.topics": "t"}))
}

func TestSelectionErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg map[string]string
		key string
	}{
		"no topics":      {map[string]string{}, KeyTopics},
		"dotted format":  {map[string]string{"source.topics": "t", KeyTopicFormat: "${alias}.${topic}"}, KeyTopicFormat},
		"no ${topic}":    {map[string]string{"source.topics": "t", KeyTopicFormat: "${alias}"}, KeyTopicFormat},
		"bad topic name": {map[string]string{"source.topics": "a.b"}, KeyTopics},
		"bad regex":      {map[string]string{KeyTopicsRegex: "("}, KeyTopicsRegex},
	} {
		t.Run(name, func(t *testing.T) {
			tc.cfg["src.endpoint"] = "a:1"
			err := NewSourceConnector().Validate(tc.cfg)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.key)
		})
	}
}

func TestSelectionChooseAndRename(t *testing.T) {
	v := values(t, sourceSpec, map[string]string{"src.endpoint": "a:1", "source.cluster.alias": "A", "target.cluster.alias": "B",
		KeyTopicsRegex: "orders.*|B_.*|RMQ_SYS_.*", KeyTopics: "listed"})
	sel, err := newSelection(v)
	require.NoError(t, err)
	got := sel.choose([]string{"orders", "orders_eu", "B_orders", "RMQ_SYS_TRACE_TOPIC", "listed", "other", "%RETRY%g", DefaultOffsetSyncs})
	// B_orders is a replica of the target's own topic: replicating it back would loop.
	require.Equal(t, []string{"listed", "orders", "orders_eu"}, got)
	require.Equal(t, "A_orders", sel.rename("orders"))
	require.False(t, sel.identity("orders"))

	v = values(t, sourceSpec, map[string]string{"src.endpoint": "a:1", "source.cluster.alias": "A", "target.cluster.alias": "B",
		KeyTopics: "orders", KeyTopicFormat: "${topic}"})
	sel, err = newSelection(v)
	require.NoError(t, err)
	require.True(t, sel.identity("orders"))
}

// Loop prevention in identity mode: a replica carries the path of aliases it came through,
// and a message whose path names the target is not replicated back to it.
func TestRecordKeepsMessageAndPreventsLoops(t *testing.T) {
	v := values(t, sourceSpec, map[string]string{"src.endpoint": "a:1", "source.cluster.alias": "A", "target.cluster.alias": "B",
		KeyTopics: "orders", KeyTopicFormat: "${topic}", KeyTopicTags: "orders,TagA"})
	sel, err := newSelection(v)
	require.NoError(t, err)
	task := &sourceTask{sel: sel}
	qs := &queueState{q: rmqclient.Queue{Topic: "orders"}, target: "orders", identity: true, tags: sel.tagFilter("orders"),
		part: map[string]any{}, ext: map[string]string{plugins.ExtTargetQueue: "0"}}
	born := time.UnixMilli(1700000000000)
	m := &rmqclient.ReceivedMessage{Offset: 41, Keys: []string{"k1", "k2"}, Tag: "TagA", Body: []byte("body"),
		Properties: map[string]string{"p": "v"}, BornTime: born}
	one := []*rmqclient.ReceivedMessage{m}
	b := newPullBlock(one)
	r := task.record(qs, m, &b, 0)
	require.NotNil(t, r)
	require.Equal(t, []byte("body"), r.Value)
	require.Equal(t, map[string]any{OffsetNext: int64(42)}, r.Offset())
	next, ok := recordNext(r)
	require.True(t, ok)
	require.Equal(t, int64(42), next)
	require.Equal(t, born, r.Timestamp)
	h := map[string]any{}
	for _, x := range r.Headers {
		h[x.Key] = x.Value
	}
	require.Equal(t, map[string]any{"p": "v", "KEYS": "k1 k2", "TAGS": "TagA", PropPath: "A"}, h)

	r.Headers.Add("added", nil, "by a transform")
	require.Len(t, b.hdrs, 4, "a header added to a record leaves the pull's slab alone")

	m.Tag = "TagB"
	b = newPullBlock(one)
	require.Nil(t, task.record(qs, m, &b, 0), "filtered by tag")
	m.Tag = "TagA"
	m.Properties[PropPath] = "C,B"
	b = newPullBlock(one)
	require.Nil(t, task.record(qs, m, &b, 0), "came from the target")
	m.Properties[PropPath] = "C"
	b = newPullBlock(one)
	r = task.record(qs, m, &b, 0)
	got, _ := r.Headers.Get(PropPath)
	require.Equal(t, "C,A", got.Value)
}

func TestTranslate(t *testing.T) {
	s := newSyncStore()
	q := srcQueue{"A", "t", "broker-local", 1}
	mk := func(up, down int64) OffsetSync {
		return OffsetSync{Cluster: "A", Topic: "t", Broker: "broker-local", Queue: 1, Upstream: up, TargetTopic: "A_t", TargetQueue: 1, Downstream: down}
	}
	_, _, ok := s.translate(q, 5)
	require.False(t, ok)
	s.add(mk(0, 10))
	s.add(mk(100, 110))
	s.add(mk(50, 60))
	for _, tc := range []struct{ next, want int64 }{
		{0, 10},    // at a synced message: exactly there
		{1, 11},    // past it: just after it
		{50, 60},   //
		{99, 61},   // re-reads 51..98's copies: at most offset.lag.max
		{100, 110}, //
		{500, 111}, //
	} {
		_, got, ok := s.translate(q, tc.next)
		require.True(t, ok)
		require.Equal(t, tc.want, got, "translate %d", tc.next)
	}
	_, _, ok = s.translate(srcQueue{"B", "t", "broker-local", 1}, 5)
	require.False(t, ok, "keyed by alias, not by broker name")
	first, ok := s.first(q)
	require.True(t, ok)
	require.Equal(t, int64(0), first.Upstream)
}

func TestSyncStoreThins(t *testing.T) {
	s := newSyncStore()
	for i := int64(0); i < 3*maxSyncs; i++ {
		s.add(OffsetSync{Cluster: "A", Topic: "t", Upstream: i, TargetTopic: "x", Downstream: i})
	}
	l := s.m[srcQueue{"A", "t", "", 0}]
	require.LessOrEqual(t, len(l), maxSyncs)
	require.Equal(t, int64(3*maxSyncs-1), l[len(l)-1].Upstream, "the newest sync is kept")
	_, got, ok := s.translate(srcQueue{"A", "t", "", 0}, 3*maxSyncs-1)
	require.True(t, ok)
	require.Equal(t, int64(3*maxSyncs-1), got)
}

func TestDecodeSync(t *testing.T) {
	_, err := decodeSync([]byte("{"))
	require.ErrorIs(t, err, ErrBadSync)
	_, err = decodeSync([]byte(`{"cluster":"A"}`))
	require.ErrorIs(t, err, ErrBadSync)
	s, err := decodeSync([]byte(`{"cluster":"A","topic":"t","targetTopic":"A_t","upstream":3,"downstream":4}`))
	require.NoError(t, err)
	require.Equal(t, int64(4), s.Downstream)
}

// A pull's records are cut from blocks: 32 messages as the benchmark's (a property, a key and
// a tag each) cost a handful of allocations, not several a message (the record, its position
// map and number, its header slice and every header value were one each).
func TestPullRecordsAllocateByBlock(t *testing.T) {
	v := values(t, sourceSpec, map[string]string{"src.endpoint": "a:1", "source.cluster.alias": "A", "target.cluster.alias": "B",
		KeyTopics: "orders"})
	sel, err := newSelection(v)
	require.NoError(t, err)
	task := &sourceTask{sel: sel}
	qs := &queueState{q: rmqclient.Queue{Topic: "orders"}, target: "A.orders", part: map[string]any{}}
	msgs := make([]*rmqclient.ReceivedMessage, 32)
	for i := range msgs {
		msgs[i] = &rmqclient.ReceivedMessage{Offset: int64(1000 + i), Keys: []string{"k" + strconv.Itoa(i)}, Tag: "t",
			Body: []byte("body"), Properties: map[string]string{"i": strconv.Itoa(i)}}
	}
	var recs []*schema.Record
	allocs := testing.AllocsPerRun(20, func() {
		recs = recs[:0]
		b := newPullBlock(msgs)
		for i, m := range msgs {
			recs = append(recs, task.record(qs, m, &b, i))
		}
	})
	require.LessOrEqual(t, allocs, 6.0, "allocations a pull of %d messages", len(msgs))
	for i, r := range recs {
		next, ok := recordNext(r)
		require.True(t, ok)
		require.Equal(t, int64(1001+i), next)
		h := map[string]any{}
		for _, x := range r.Headers {
			h[x.Key] = x.Value
		}
		require.Equal(t, map[string]any{"i": strconv.Itoa(i), "KEYS": "k" + strconv.Itoa(i), "TAGS": "t"}, h)
	}
}

// A position before the queue's start (the broker deleted those messages before the task read
// them: retention, a cleaned disk) reads on from the broker's next offset, warns naming the
// queue, the position and the range, and counts what it skipped as lost.
func TestMovedBeforeStartCountsLost(t *testing.T) {
	var logs bytes.Buffer
	m := conformance.NewMetrics()
	task := &sourceTask{log: slog.New(slog.NewTextHandler(&logs, nil)), sel: &selection{srcAlias: "A"}}
	require.NoError(t, task.declareMetrics(m, []string{"orders"}))
	qs := &queueState{q: rmqclient.Queue{Topic: "orders", BrokerName: "b", QueueID: 1}, label: "orders", next: 5}
	moved, err := task.moved(context.Background(), qs,
		rmqclient.Pulled{Moved: true, Next: 12, MinOffset: 12, MaxOffset: 20, Status: "OFFSET_MOVED OFFSET_TOO_SMALL"})
	require.NoError(t, err)
	require.True(t, moved)
	require.Equal(t, int64(12), qs.next)
	require.Equal(t, int64(20), qs.max.Load())
	require.Equal(t, 7.0, m.Count(MetricLost, "orders"))
	require.Contains(t, logs.String(), "queue=orders@b#1 position=5 next=12 min=12 max=20 lost=7")

	// An answer that names no offset to go on from leaves the queue where it is, failing
	// (retried later, and named in the periodic warning).
	moved, err = task.moved(context.Background(), qs, rmqclient.Pulled{Moved: true, Next: 12, MinOffset: 0, MaxOffset: 20})
	require.NoError(t, err)
	require.False(t, moved)
	require.Equal(t, int64(12), qs.next)
	require.Equal(t, 1, task.failing)
}

func TestPastEnd(t *testing.T) {
	require.Equal(t, int64(0), rmqclient.Pulled{MinOffset: 0, MaxOffset: 20}.PastEnd(), "a queue made again is read from its start")
	require.Equal(t, int64(20), rmqclient.Pulled{MinOffset: 5, MaxOffset: 20}.PastEnd(), "a replica that lacks the newest messages is read from its end")
}

// Offset syncs describe one target queue per source queue, which the worker keeps only with
// ordering.msg.enable=true: turning ordering off while syncs are written is refused, naming
// the key and the reason; without syncs it is allowed.
func TestOrderingOffNeedsNoOffsetSyncs(t *testing.T) {
	base := map[string]string{"src.endpoint": "a:1", "source.topics": "t", "source.cluster.alias": "A", "target.cluster.alias": "B"}
	with := func(kv ...string) map[string]string {
		cfg := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			cfg[kv[i]] = kv[i+1]
		}
		return cfg
	}
	err := NewSourceConnector().Validate(with(plugins.KeyOrdering, "false"))
	var errs cfgerr.List
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	require.Equal(t, plugins.KeyOrdering, errs[0].Key)
	require.Contains(t, errs[0].Reason, KeyEmitSyncs)
	require.Error(t, NewSourceConnector().Validate(with(plugins.KeyOrdering, "false", KeyEmitSyncs, "true")))
	require.NoError(t, NewSourceConnector().Validate(with(plugins.KeyOrdering, "false", KeyEmitSyncs, "false")))
	require.NoError(t, NewSourceConnector().Validate(base))
	require.NoError(t, NewSourceConnector().Validate(with(plugins.KeyOrdering, "true")))
}

// Groups and topics given to the checkpoint connector are checked as RocketMQ names them, and
// every problem names the key the user wrote.
func TestCheckpointConfigErrors(t *testing.T) {
	base := map[string]string{"src.endpoint": "a:1", "dest.endpoint": "b:1", "source.cluster.alias": "A", "target.cluster.alias": "B"}
	for name, tc := range map[string]struct {
		cfg map[string]string
		key string
	}{
		"groups name no group":       {map[string]string{"groups": " ; ", "source.topics": "t"}, "groups"},
		"sync.gids name no group":    {map[string]string{"sync.gids": " , ;", "source.topics": "t"}, "sync.gids"},
		"bad group name":             {map[string]string{"groups": "ok;not.a.group", "source.topics": "t"}, "groups"},
		"bad sync.gids group name":   {map[string]string{"sync.gids": "g/1", "source.topics": "t"}, "sync.gids"},
		"bad topic in src.topictags": {map[string]string{"sync.gids": "g", "src.topictags": "a.b,*"}, KeyTopicTags},
		"bad topic in source.topics": {map[string]string{"sync.gids": "g", "source.topics": "a.b"}, KeyTopics},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := maps.Clone(base)
			maps.Copy(cfg, tc.cfg)
			err := NewCheckpointConnector().Validate(cfg)
			var errs cfgerr.List
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, "%v", err)
			require.Equal(t, tc.key, errs[0].Key, "%v", err)
		})
	}
	// The replicator reports a bad src.topictags topic under its own key too.
	err := NewSourceConnector().Validate(map[string]string{"src.endpoint": "a:1", "src.topictags": "ok,*;a.b,TagA"})
	var errs cfgerr.List
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	require.Equal(t, KeyTopicTags, errs[0].Key)
	require.Equal(t, "a.b", errs[0].Value)
	cfg := maps.Clone(base)
	cfg["sync.gids"], cfg["source.topics"] = "g1, g2;%RETRY%g3", "t"
	require.NoError(t, NewCheckpointConnector().Validate(cfg))
	require.Equal(t, []string{"g1", "g2", "%RETRY%g3"}, splitGroups(values(t, checkpointSpec, cfg).String(KeyGroups)))
}
