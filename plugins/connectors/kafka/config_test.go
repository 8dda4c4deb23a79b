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
	require.NoError(t, NewSinkConnector().Validate(map[string]string{KeyBootstrap: "h:1"}))
	err := NewSinkConnector().Validate(map[string]string{KeyBootstrap: "h:1", KeyCompression: "brotli"})
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.Equal(t, KeyCompression, cfgerr.Flatten(err)[0].Key)
	err = NewSinkConnector().Validate(map[string]string{KeyBootstrap: "h:1", KeySecurity: "SASL_SSL", KeySASLMechanism: "SCRAM-SHA-512"})
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
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
