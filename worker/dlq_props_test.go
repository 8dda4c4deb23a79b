package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// encodedProps is the length of m's properties on the wire, KEYS included.
func encodedProps(m *rmqclient.Message) int {
	n := propsLen(m.Properties)
	if len(m.Keys) > 0 {
		n += len("KEYS") + len(strings.Join(m.Keys, " ")) + 2
	}
	return n
}

// TestDLQMessagePropertiesFitRocketMQ: whatever the record's properties and the error, the
// DLQ message's properties fit RocketMQ's limit with room for what the producer adds: the
// exception message and stack trace are cut, and past that the record's own properties,
// then its keys, are dropped and the record marked so that a replay refuses it.
func TestDLQMessagePropertiesFitRocketMQ(t *testing.T) {
	long := errors.New(strings.Repeat("e", 100<<10))
	for _, tc := range []struct {
		name      string
		keys      []string
		props     map[string]string
		cause     error
		keepProps bool
		keepKeys  bool
	}{
		{"small", []string{"k"}, map[string]string{"p": "v"}, errors.New("bad"), true, true},
		{"long error", []string{"k"}, map[string]string{"p": "v"}, long, true, true},
		{"large property", []string{"k"}, map[string]string{"big": strings.Repeat("b", 31<<10)}, long, false, true},
		{"large keys and properties", []string{strings.Repeat("k", 20<<10)}, map[string]string{"big": strings.Repeat("b", 12<<10)},
			errors.New("bad"), false, true},
		{"keys alone too large with the context", []string{strings.Repeat("k", 30<<10)}, nil, long, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &errorReporter{policy: errorPolicy{tolerateAll: true, dlqTopic: "dlq", dlqContextProps: true}, connector: "c"}
			m := r.dlqMessage(failedRecord{stage: StageValueConv, class: StageValueConv, topic: "t", queueID: 1, offset: 2,
				keys: tc.keys, body: []byte("body"), props: tc.props}, tc.cause)
			require.LessOrEqual(t, encodedProps(m)+dlqPropsReserve, dlqMaxProps)
			require.LessOrEqual(t, len(m.Properties[ErrHeaderExcMessage]), dlqMaxContextValue)
			require.LessOrEqual(t, len(m.Properties[ErrHeaderExcStack]), dlqMaxContextValue)
			require.NotEmpty(t, m.Properties[ErrHeaderExcMessage])
			for k, v := range tc.props {
				if tc.keepProps {
					require.Equal(t, v, m.Properties[k])
				} else {
					require.NotContains(t, m.Properties, k)
				}
			}
			if tc.keepKeys {
				require.Equal(t, tc.keys, m.Keys)
			} else {
				require.Empty(t, m.Keys)
			}
			if tc.keepProps && tc.keepKeys {
				require.NotContains(t, m.Properties, ErrHeaderPropsTruncated)
			} else {
				require.Equal(t, "true", m.Properties[ErrHeaderPropsTruncated])
			}
		})
	}
}

// TestDLQOfARecordWithLargePropertiesKeepsTheTaskRunning: a message whose properties are
// near RocketMQ's limit and whose body the converter refuses reaches the DLQ (without its
// own properties, marked), the tolerant task goes on RUNNING with the records after it, and
// a replay refuses the record with the reason. The DLQ message used to add the error
// context to the record's properties, the broker refused it on every try, and the task
// failed and restarted on the same record forever.
func TestDLQOfARecordWithLargePropertiesKeepsTheTaskRunning(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	p, err := rmqtest.Client(t).NewProducer("large", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	// The message fits RocketMQ's limit on properties (32,767 bytes encoded, KEYS and what the
	// producer adds included); with the error context added, it would not.
	key := strings.Repeat("k", 200)
	for _, m := range []*rmqclient.Message{
		{Topic: topic, Body: []byte("not json"), Keys: []string{key}, Properties: map[string]string{"big": strings.Repeat("b", 32300)}},
		{Topic: topic, Body: []byte(`{"a":1}`)},
	} {
		_, err := p.Send(ctx, m)
		require.NoError(t, err)
	}
	id := rmqtest.Name(t, "state")
	_, err = env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": id,
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "value.converter": "json",
		"value.converter.schemas.enable": "false", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)

	st := stateFor(id)
	require.Eventually(t, func() bool { return len(st.unique()) == 1 }, 60*time.Second, 100*time.Millisecond,
		"the record after the refused one reached the sink")
	recs := waitDLQ(t, env.h, "s", 1)
	waitState(t, env.h, "s", restapi.StateRunning, 1)
	got, err := env.h.DLQGet(ctx, "s", recs[0].ID)
	require.NoError(t, err)
	require.Equal(t, "not json", string(got.Body))
	require.Equal(t, []string{key}, got.Keys)
	require.NotContains(t, got.Properties, "big")
	require.Equal(t, StageValueConv, got.Stage)

	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
	require.Len(t, res.Refused, 1)
	require.Contains(t, res.Refused[0].Reason, "properties", fmt.Sprint(res.Refused))
}
