package kafka

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
)

func TestSourceValidate(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{KeyBootstrap: "127.0.0.1:9092"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		cfg     map[string]string
		wantKey string
	}{
		{"list", base(KeyTopics, "a,b"), ""},
		{"regex", base(KeyTopicsRegex, "orders\\..*"), ""},
		{"kafka spellings", map[string]string{"bootstrap.servers": "h:1", KeyTopics: "a", "security.protocol": "SSL"}, ""},
		{"no topics", base(), KeyTopics},
		{"both", base(KeyTopics, "a", KeyTopicsRegex, "b"), KeyTopicsRegex},
		{"bad regex", base(KeyTopicsRegex, "("), KeyTopicsRegex},
		{"no bootstrap", map[string]string{KeyTopics: "a"}, KeyBootstrap},
		{"bad bootstrap", base(KeyTopics, "a", KeyBootstrap, "nohost"), KeyBootstrap},
		{"sasl without user", base(KeyTopics, "a", KeySecurity, "SASL_SSL"), KeySASLUsername},
		{"sasl without password", base(KeyTopics, "a", KeySecurity, "SASL_PLAINTEXT", KeySASLUsername, "u"), KeySASLPassword},
		{"bad mechanism", base(KeyTopics, "a", KeySASLMechanism, "GSSAPI"), KeySASLMechanism},
		{"cert without key", base(KeyTopics, "a", KeySSLCert, "/c.pem"), KeySSLKey},
		{"rename twice", base(KeyTopics, "a", KeyTopicRename, "${topic}${topic}"), KeyTopicRename},
		{"rename unknown", base(KeyTopics, "a", KeyTopicRename, "${cluster}.${topic}"), KeyTopicRename},
		{"bad reset", base(KeyTopics, "a", KeyStart, "middle"), KeyStart},
		// The bounds franz-go checks when the task builds its client.
		{"fetch wait 10ms", base(KeyTopics, "a", KeyFetchMaxWait, "10ms"), ""},
		{"fetch wait under 10ms", base(KeyTopics, "a", KeyFetchMaxWait, "9ms"), KeyFetchMaxWait},
		{"fetch bytes 100 MiB", base(KeyTopics, "a", KeyFetchMaxBytes, "104857600"), ""},
		{"fetch bytes over 100 MiB", base(KeyTopics, "a", KeyFetchMaxBytes, "104857601"), KeyFetchMaxBytes},
		{"request timeout 15m", base(KeyTopics, "a", KeyRequestTimeout, "15m"), ""},
		{"request timeout over 15m", base(KeyTopics, "a", KeyRequestTimeout, "15m1s"), KeyRequestTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewSourceConnector().Validate(tt.cfg)
			if tt.wantKey == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var keys []string
			for _, fe := range cfgerr.Flatten(err) {
				keys = append(keys, fe.Key)
			}
			require.Contains(t, keys, tt.wantKey, err.Error())
		})
	}
}

func TestSinkValidate(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{KeyBootstrap: "h:1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		cfg     map[string]string
		wantKey string
	}{
		{"defaults", base(), ""},
		{"bad compression", base(KeyCompression, "brotli"), KeyCompression},
		// An empty format would give every record an empty Kafka topic.
		{"empty rename format", base(KeyTopicRename, ""), KeyTopicRename},
		{"empty rename format unused", base(KeyTopicRename, "", KeyTargetTopic, "t"), ""},
		{"sasl without user", base(KeySecurity, "SASL_SSL", KeySASLMechanism, "SCRAM-SHA-512"), KeySASLUsername},
		// The bounds franz-go checks when the task builds its client.
		{"batch 100 MiB", base(KeyBatchMaxBytes, "104857600"), ""},
		{"batch over 100 MiB", base(KeyBatchMaxBytes, "104857601"), KeyBatchMaxBytes},
		{"request timeout 15m", base(KeyRequestTimeout, "15m"), ""},
		{"request timeout over 15m", base(KeyRequestTimeout, "1h"), KeyRequestTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewSinkConnector().Validate(tt.cfg)
			if tt.wantKey == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var keys []string
			for _, fe := range cfgerr.Flatten(err) {
				keys = append(keys, fe.Key)
			}
			require.Contains(t, keys, tt.wantKey, err.Error())
		})
	}
}

// TestSpecBoundsBuildClients: the extremes the specs accept are ones franz-go takes too, so a
// configuration that validates never fails every task start. Nothing is dialled: the clients are only
// built.
func TestSpecBoundsBuildClients(t *testing.T) {
	for _, extreme := range []map[string]string{
		{KeyFetchMaxWait: "10ms", KeyFetchMaxBytes: "104857600", KeyBatchMaxBytes: "104857600", KeyRequestTimeout: "15m"},
		{KeyFetchMaxWait: "30s", KeyFetchMaxBytes: "1024", KeyBatchMaxBytes: "1024", KeyRequestTimeout: "1s"},
	} {
		src := map[string]string{KeyBootstrap: "127.0.0.1:1", KeyTopics: "a", KeyTaskPartitions: "a:0"}
		sink := map[string]string{KeyBootstrap: "127.0.0.1:1"}
		for k, v := range extreme {
			src[k], sink[k] = v, v
		}
		require.NoError(t, NewSourceConnector().Validate(src))
		require.NoError(t, NewSinkConnector().Validate(sink))

		vals, err := sourceSpec.Parse(src)
		require.NoError(t, err)
		stctx := conformance.NewSourceContext(nil)
		stctx.Values = vals
		st := &SourceTask{}
		require.NoError(t, st.Start(context.Background(), stctx, src), "source %v", extreme)
		require.NoError(t, st.Stop(context.Background()))

		vals, err = sinkSpec.Parse(sink)
		require.NoError(t, err)
		ktctx := conformance.NewSinkContext(conformance.Queue)
		ktctx.Values = vals
		kt := &SinkTask{}
		require.NoError(t, kt.Start(context.Background(), ktctx, sink), "sink %v", extreme)
		require.NoError(t, kt.Stop(context.Background()))
	}
}

func TestTargetTopic(t *testing.T) {
	require.Equal(t, "orders_v1", targetTopic("${topic}", "orders.v1"))
	require.Equal(t, "kafka-orders", targetTopic("kafka-${topic}", "orders"))
	require.Equal(t, "fixed", targetTopic("fixed", "orders"))
}

func TestParsePartitions(t *testing.T) {
	got, err := parsePartitions("a:0, b.c:12 ,")
	require.NoError(t, err)
	require.Equal(t, []topicPartition{{"a", 0}, {"b.c", 12}}, got)
	for _, bad := range []string{"", "a", "a:x", ":1", "a:-1"} {
		_, err := parsePartitions(bad)
		require.ErrorIs(t, err, ErrBadTaskConfig, bad)
	}
}

func TestTaskConfigsSplitPartitions(t *testing.T) {
	c := NewSourceConnector()
	c.cfg = map[string]string{KeyTopics: "a,b"}
	c.parts = []topicPartition{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}}
	cfgs, err := c.TaskConfigs(2)
	require.NoError(t, err)
	require.Len(t, cfgs, 2)
	require.Equal(t, "a:0,a:2,b:1", cfgs[0][KeyTaskPartitions])
	require.Equal(t, "a:1,b:0", cfgs[1][KeyTaskPartitions])
	require.Equal(t, "a,b", cfgs[1][KeyTopics])
	require.NotContains(t, cfgs[0], KeyTaskStarts, "earliest: no start offsets")
	// latest: each task carries the start offsets the connector read for its partitions ({b 1} was
	// found after the start, so it has none and starts at its oldest record).
	c.starts = map[topicPartition]topicOffset{{"a", 0}: {5, "idA"}, {"a", 1}: {6, "idA"}, {"a", 2}: {7, "idA"}, {"b", 0}: {8, "idB"}}
	cfgs, err = c.TaskConfigs(2)
	require.NoError(t, err)
	require.Equal(t, "a:0=5,a:2=7", cfgs[0][KeyTaskStarts])
	require.Equal(t, "a=idA", cfgs[0][KeyTaskStartIDs])
	require.Equal(t, "a:1=6,b:0=8", cfgs[1][KeyTaskStarts])
	require.Equal(t, "a=idA,b=idB", cfgs[1][KeyTaskStartIDs])
	c.starts = nil
	cfgs, err = c.TaskConfigs(10)
	require.NoError(t, err)
	require.Len(t, cfgs, 5, "no more tasks than partitions")
	c.parts = nil
	cfgs, err = c.TaskConfigs(3)
	require.NoError(t, err)
	require.Empty(t, cfgs)
}

func TestSourceTaskRejectsForeignTaskConfig(t *testing.T) {
	tctx := conformance.NewSourceContext(nil)
	vals, err := sourceSpec.Parse(map[string]string{KeyBootstrap: "127.0.0.1:1", KeyTopics: "a"})
	require.NoError(t, err)
	tctx.Values = vals
	err = (&SourceTask{}).Start(context.Background(), tctx, nil)
	require.ErrorIs(t, err, ErrBadTaskConfig)
}
