package kafka_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// topicID is the id of topic as Kafka prints it (kafka-topics.sh --describe): its 16 bytes in unpadded
// URL-safe base64.
func topicID(t *testing.T, b *kafkatest.Broker, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := b.Admin(t).ListTopics(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, td[topic].Err)
	id := td[topic].ID
	require.NotEqual(t, kadm.TopicID{}, id, "the broker gives topic ids")
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// recreateTopic deletes topic and creates it again with partitions, once the deletion let it, and waits
// until the metadata shows the new topic with every partition led. It returns the new topic's id.
func recreateTopic(t *testing.T, b *kafkatest.Broker, topic string, partitions int32) string {
	t.Helper()
	old := topicID(t, b, topic)
	b.DeleteTopic(t, topic)
	adm := b.Admin(t)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Logf("create topic %s again: %v", topic, err)
		}
		return err == nil
	}, time.Minute, 100*time.Millisecond, "topic %s was never created again", topic)
	// The harness deletes the first topic when the test ends, and with it this one (same name).
	var id string
	require.Eventually(t, func() bool {
		td, ok := ledTopic(adm, topic, partitions)
		if !ok {
			return false
		}
		raw := td.ID
		id = base64.RawURLEncoding.EncodeToString(raw[:])
		return raw != kadm.TopicID{} && id != old
	}, 30*time.Second, 20*time.Millisecond, "the new topic %s never showed in the metadata", topic)
	return id
}

// warnLog keeps the warnings logged, each as its message and attributes.
type warnLog struct {
	mu    sync.Mutex
	warns []map[string]string // "msg" → the message, then every attribute
}

func (l *warnLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *warnLog) Handle(_ context.Context, r slog.Record) error {
	w := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		w[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warns = append(l.warns, w)
	return nil
}
func (l *warnLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *warnLog) WithGroup(string) slog.Handler      { return l }

// naming returns the warnings whose attributes hold every key and value of attrs.
func (l *warnLog) naming(attrs map[string]string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, w := range l.warns {
		match := true
		for k, v := range attrs {
			match = match && w[k] == v
		}
		if match {
			out = append(out, w)
		}
	}
	return out
}

// storedTopicID is the topic id the position store holds for partition 0 of topic.
func storedTopicID(t *testing.T, store *conformance.Positions, topic string) any {
	t.Helper()
	off, err := store.Position(context.Background(), map[string]any{kafka.PartTopic: topic, kafka.PartPartition: int64(0)})
	require.NoError(t, err)
	require.NotNil(t, off, "a position is stored for %s:0", topic)
	return off[kafka.TopicIDKey]
}

// values returns prefix-0 … prefix-(n-1).
func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// TestSourceRecreatedTopicStartsOver: a topic deleted and created again under the same name is another
// topic. A task started afterwards reads every record of the new topic — although what it would resume
// from is a position stored from the old topic (earliest) or the end offset the connector fixed on the
// old topic (latest), which lies inside the new topic when it has as many records, or past its end
// when it has fewer — and warns naming the topic and both ids. The positions stored from then on carry
// the new topic's id.
func TestSourceRecreatedTopicStartsOver(t *testing.T) {
	b := kafkatest.Shared(t)
	for _, tt := range []struct {
		reset    string
		old, new int // records of the old topic and of the new one
	}{
		{"earliest", 3, 10},
		{"earliest", 10, 3},
		{"latest", 3, 10},
	} {
		t.Run(fmt.Sprintf("%s/%d-then-%d", tt.reset, tt.old, tt.new), func(t *testing.T) {
			topic := kafkatest.Name(t, "again")
			createTopic(t, b, topic, 1)
			oldID := topicID(t, b, topic)
			old, fresh := values("old", tt.old), values("new", tt.new)
			if tt.reset == "latest" {
				toPartition(t, b, topic, 0, old...) // before the connector: its start offset is the old topic's end
			}
			c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyStart: tt.reset,
				kafka.KeyFetchMaxWait: "50ms"})
			tcs, err := c.TaskConfigs(1)
			require.NoError(t, err)
			require.Len(t, tcs, 1)
			store := conformance.NewPositions()
			if tt.reset == "earliest" {
				toPartition(t, b, topic, 0, old...)
				task := startSourceTask(t, c, tcs[0], store, nil)
				require.ElementsMatch(t, old, pollValues(t, task, store, 30*time.Second, old...))
				require.NoError(t, task.Stop(context.Background()))
				require.Equal(t, oldID, storedTopicID(t, store, topic), "the position names the topic it is in")
			}

			newID := recreateTopic(t, b, topic, 1)
			toPartition(t, b, topic, 0, fresh...)
			logs := &warnLog{}
			task := startSourceTask(t, c, tcs[0], store, slog.New(logs))
			require.ElementsMatch(t, fresh, pollValues(t, task, store, 30*time.Second, fresh...), "every record of the new topic, once")
			require.Len(t, logs.naming(map[string]string{"topic": topic, "stored_topic_id": oldID, "topic_id": newID}), 1,
				"one warning names the topic and both ids; warnings: %v", logs.warns)
			require.Equal(t, newID, storedTopicID(t, store, topic))
		})
	}
}

// TestSourcePositionWithoutTopicID: a position stored without a topic id (by an earlier version) is taken
// as the current topic's: the task resumes after it, without a warning, and the positions it stores
// from then on carry the topic's id.
func TestSourcePositionWithoutTopicID(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "noid")
	createTopic(t, b, topic, 1)
	toPartition(t, b, topic, 0, values("v", 5)...)
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	store := conformance.NewPositions()
	store.Set(map[string]any{kafka.PartTopic: topic, kafka.PartPartition: int64(0)}, map[string]any{kafka.OffsetKey: float64(2)})
	logs := &warnLog{}
	task := startSourceTask(t, c, tcs[0], store, slog.New(logs))
	require.Equal(t, []string{"v-3", "v-4"}, pollValues(t, task, store, 30*time.Second, "v-3", "v-4"))
	require.Empty(t, logs.naming(map[string]string{"topic": topic}))
	require.Equal(t, topicID(t, b, topic), storedTopicID(t, store, topic))
}

// TestSourceTopicRecreatedWhileRead: a topic deleted and created again while a task reads it (the client
// refuses to read the new topic from the old one's offsets): the task warns naming the topic and both
// ids, and reads the new topic from its oldest record, its positions carrying the new id.
func TestSourceTopicRecreatedWhileRead(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "live")
	createTopic(t, b, topic, 1)
	oldID := topicID(t, b, topic)
	old, fresh := values("old", 3), values("new", 10)
	toPartition(t, b, topic, 0, old...)
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	store := conformance.NewPositions()
	logs := &warnLog{}
	task := startSourceTask(t, c, tcs[0], store, slog.New(logs))
	require.ElementsMatch(t, old, pollValues(t, task, store, 30*time.Second, old...))

	newID := recreateTopic(t, b, topic, 1)
	toPartition(t, b, topic, 0, fresh...)
	require.ElementsMatch(t, fresh, pollValues(t, task, store, time.Minute, fresh...), "every record of the new topic, once")
	require.Len(t, logs.naming(map[string]string{"topic": topic, "stored_topic_id": oldID, "topic_id": newID}), 1,
		"one warning names the topic and both ids; warnings: %v", logs.warns)
	require.Equal(t, newID, storedTopicID(t, store, topic))
}

// TestSourceTaskStartsWhileKafkaDown: a task whose cluster cannot be reached starts, and its Poll returns
// nothing, with a warning, instead of an error: the topics are listed for their ids once Kafka answers.
func TestSourceTaskStartsWhileKafkaDown(t *testing.T) {
	cfg := map[string]string{kafka.KeyBootstrap: "127.0.0.1:1", kafka.KeyTopics: "a", kafka.KeyTaskPartitions: "a:0",
		kafka.KeyRequestTimeout: "1s"}
	logs := &warnLog{}
	task := startSourceTask(t, kafka.NewSourceConnector(), cfg, nil, slog.New(logs))
	recs, err := task.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.NotEmpty(t, logs.naming(map[string]string{"msg": "kafka topics not listed; their partitions are read once they are"}))
	require.NoError(t, task.Stop(context.Background()))
}

// TestSourceRestartAfterTopicRecreated: a task that read a topic created again stores positions with the
// new id, while the latest start offset of its config keeps the old topic's. A restart of the task
// resumes after its position without a warning, the stale start offset being of no use; a position of
// the old topic is ignored with a warning naming both ids, and the partition starts where one without a
// position does (at the oldest record, or at a start offset the connector fixed on the new topic).
func TestSourceRestartAfterTopicRecreated(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "restart")
	createTopic(t, b, topic, 1)
	oldID := topicID(t, b, topic)
	toPartition(t, b, topic, 0, values("old", 3)...)
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyStart: "latest",
		kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)
	require.Equal(t, topic+":0=3", tcs[0][kafka.KeyTaskStarts])
	require.Equal(t, topic+"="+oldID, tcs[0][kafka.KeyTaskStartIDs])
	newID := recreateTopic(t, b, topic, 1)
	fresh := values("new", 10)
	toPartition(t, b, topic, 0, fresh...)
	// The config a connector started after the topic was created again would give the task.
	refixed := maps.Clone(tcs[0])
	refixed[kafka.KeyTaskStarts], refixed[kafka.KeyTaskStartIDs] = topic+":0=7", topic+"="+newID

	for _, tt := range []struct {
		name     string
		cfg      map[string]string
		storedID string // of the committed position, offset 4
		want     []string
		warn     bool
	}{
		{"position of the new topic", tcs[0], newID, fresh[5:], false},
		{"position of the old topic", tcs[0], oldID, fresh, true},
		{"position of the old topic, start offset of the new", refixed, oldID, fresh[7:], true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := conformance.NewPositions()
			store.Set(map[string]any{kafka.PartTopic: topic, kafka.PartPartition: int64(0)},
				map[string]any{kafka.OffsetKey: float64(4), kafka.TopicIDKey: tt.storedID})
			logs := &warnLog{}
			task := startSourceTask(t, c, tt.cfg, store, slog.New(logs))
			require.ElementsMatch(t, tt.want, pollValues(t, task, store, 30*time.Second, tt.want...))
			require.NoError(t, task.Stop(context.Background()))
			if tt.warn {
				require.Len(t, logs.naming(map[string]string{"topic": topic, "stored_topic_id": oldID, "topic_id": newID}), 1,
					"one warning names the topic and both ids; warnings: %v", logs.warns)
			} else {
				require.Empty(t, logs.naming(map[string]string{"topic": topic}), "no warning; warnings: %v", logs.warns)
			}
			require.Equal(t, newID, storedTopicID(t, store, topic))
		})
	}
}
