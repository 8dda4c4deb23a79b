package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// TestSecurityOptionsReachTheClient: kafka-sink writes and kafka-source lists topics through the broker's
// SASL_PLAINTEXT listener with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, and through its SSL listener with
// the test CA; a wrong password and an unknown CA are refused.
func TestSecurityOptionsReachTheClient(t *testing.T) {
	b := kafkatest.Shared(t)
	if b.SASLAddr == "" {
		t.Skip("the broker named by " + kafkatest.EnvBrokers + " has no SASL and SSL listeners of the harness")
	}
	topic := kafkatest.Name(t, "sec")
	createTopic(t, b, topic, 1)
	sasl := func(mech, pw string) map[string]string {
		return map[string]string{kafka.KeyBootstrap: b.SASLAddr, kafka.KeySecurity: "SASL_PLAINTEXT",
			kafka.KeySASLMechanism: mech, kafka.KeySASLUsername: kafkatest.SASLUser, kafka.KeySASLPassword: pw,
			kafka.KeyRequestTimeout: "5s"}
	}
	ssl := func(ca string) map[string]string {
		return map[string]string{kafka.KeyBootstrap: b.SSLAddr, kafka.KeySecurity: "SSL", kafka.KeySSLCA: ca,
			kafka.KeyRequestTimeout: "5s"}
	}
	tests := []struct {
		name string
		cfg  map[string]string
		ok   bool
	}{
		{"PLAIN", sasl("PLAIN", kafkatest.SASLPassword), true},
		{"SCRAM-SHA-256", sasl("SCRAM-SHA-256", kafkatest.SASLPassword), true},
		{"SCRAM-SHA-512", sasl("SCRAM-SHA-512", kafkatest.SASLPassword), true},
		{"SSL", ssl(b.CAFile), true},
		{"PLAIN wrong password", sasl("PLAIN", "wrong"), false},
		{"SCRAM wrong password", sasl("SCRAM-SHA-512", "wrong"), false},
		{"SSL unknown CA", ssl(""), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.cfg
			src[kafka.KeyTopics] = topic
			c := kafka.NewSourceConnector()
			require.NoError(t, c.Validate(src))
			cctx := conformance.NewConnectorContext()
			vals, err := c.Spec().Parse(src)
			require.NoError(t, err)
			cctx.Values = vals
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = c.Start(ctx, cctx, src)
			require.NoError(t, c.Stop(ctx))
			if !tt.ok {
				require.Error(t, err, "the source lists topics without valid credentials")
				return
			}
			require.NoError(t, err)

			sink := map[string]string{kafka.KeyTargetTopic: topic}
			for k, v := range tt.cfg {
				sink[k] = v
			}
			task, _ := startSink(t, sink)
			r := schema.NewRecord("rmq", nil, nil, schema.OptionalBytesSchema, []byte(fmt.Sprint(i)))
			require.NoError(t, task.Put(ctx, []*schema.Record{r}))
			require.NoError(t, task.Flush(ctx, nil))
		})
	}
	require.Len(t, b.ReadAll(t, topic, 4, 30*time.Second), 4, "one record per accepted configuration")
}
