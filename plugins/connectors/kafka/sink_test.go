package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// autoCreates reports whether b's brokers create a topic a client asks for (auto.create.topics.enable,
// true by default and on the harness's broker).
func autoCreates(t *testing.T, b *kafkatest.Broker) bool {
	t.Helper()
	adm := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers, err := adm.ListBrokers(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, brokers)
	rcs, err := adm.DescribeBrokerConfigs(ctx, brokers[0].NodeID)
	require.NoError(t, err)
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "auto.create.topics.enable" {
				return c.Value != nil && *c.Value == "true"
			}
		}
	}
	return true
}

// TestSinkWritesToTopicKafkaCreates: as Kafka's Java producer does, the sink asks for a topic that does
// not exist to be created; a broker that allows it creates the topic and the record is written, instead
// of being refused with UNKNOWN_TOPIC_OR_PARTITION.
func TestSinkWritesToTopicKafkaCreates(t *testing.T) {
	b := kafkatest.Shared(t)
	if !autoCreates(t, b) {
		t.Skip("the brokers do not create topics on request (auto.create.topics.enable=false)")
	}
	topic := kafkatest.Name(t, "auto")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = b.Admin(t).DeleteTopics(ctx, topic)
	})
	task, _ := startSink(t, map[string]string{kafka.KeyBootstrap: b.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := schema.NewRecord(topic, schema.OptionalBytesSchema, []byte("k"), schema.OptionalBytesSchema, []byte("v"))
	require.NoError(t, task.Put(ctx, []*schema.Record{r}))
	require.NoError(t, task.Flush(ctx, nil))
	require.Len(t, b.ReadAll(t, topic, 1, 30*time.Second), 1)
}

// TestSinkWrongPasswordFailsFlush: credentials Kafka refuses fail the task's Flush with ErrUnauthorized,
// not retriable and naming SASL and the user's key, instead of a Flush waiting for acknowledgements that
// never come while the producer retries the login in silence.
func TestSinkWrongPasswordFailsFlush(t *testing.T) {
	b := kafkatest.Shared(t)
	if b.SASLAddr == "" {
		t.Skip("the broker named by " + kafkatest.EnvBrokers + " has no SASL listener of the harness")
	}
	topic := kafkatest.Name(t, "auth")
	createTopic(t, b, topic, 1)
	task, _ := startSink(t, map[string]string{kafka.KeyBootstrap: b.SASLAddr, kafka.KeySecurity: "SASL_PLAINTEXT",
		kafka.KeySASLMechanism: "PLAIN", kafka.KeySASLUsername: kafkatest.SASLUser, kafka.KeySASLPassword: "wrong",
		kafka.KeyRequestTimeout: "5s", kafka.KeyTargetTopic: topic})
	// A Flush still waiting at this deadline is the fault; an answer comes within seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte("k"), schema.OptionalBytesSchema, []byte("v"))
	require.NoError(t, task.Put(ctx, []*schema.Record{r}))
	err := task.Flush(ctx, nil)
	require.ErrorIs(t, err, kafka.ErrUnauthorized)
	require.False(t, plugins.IsRetriable(err))
	require.Contains(t, err.Error(), "SASL")
	require.Contains(t, err.Error(), kafka.KeySASLUsername)
}
