package kafka

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

// listing builds a metadata listing: each topic with one partition, or with err as its load error.
func listing(topics map[string]error) kadm.TopicDetails {
	out := kadm.TopicDetails{}
	for t, err := range topics {
		d := kadm.TopicDetail{Topic: t, Err: err}
		if err == nil {
			d.Partitions = kadm.PartitionDetails{0: {Topic: t, Partition: 0}}
		}
		out[t] = d
	}
	return out
}

func TestSelectPartitions(t *testing.T) {
	long := "t_" + strings.Repeat("z", 140)
	vals := func(kv ...string) plugins.Values {
		cfg := map[string]string{KeyBootstrap: "h:1"}
		for i := 0; i < len(kv); i += 2 {
			cfg[kv[i]] = kv[i+1]
		}
		v, err := sourceSpec.Parse(cfg)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name    string
		topics  map[string]error
		v       plugins.Values
		reading map[string]bool
		want    string // partitions, or the error's sentinel when wantErr
		skipped []string
		wantErr error
		retry   bool
	}{
		{name: "listed", topics: map[string]error{"a": nil, "b": nil}, v: vals(KeyTopics, "b,a"), want: "[a:0 b:0]"},
		{name: "listed missing", topics: map[string]error{"a": nil}, v: vals(KeyTopics, "a,b"), wantErr: ErrTopicMissing},
		{name: "listed unknown", topics: map[string]error{"a": kerr.UnknownTopicOrPartition}, v: vals(KeyTopics, "a"), wantErr: ErrTopicMissing},
		{name: "listed not authorized", topics: map[string]error{"a": kerr.TopicAuthorizationFailed}, v: vals(KeyTopics, "a"), wantErr: ErrUnauthorized},
		{name: "listed leader moving", topics: map[string]error{"a": kerr.LeaderNotAvailable}, v: vals(KeyTopics, "a"), wantErr: kerr.LeaderNotAvailable, retry: true},
		{name: "listed collision", topics: map[string]error{"a": nil, "b": nil}, v: vals(KeyTopics, "a,b", KeyTopicRename, "one"), wantErr: ErrTopicCollision},
		{name: "listed name too long", topics: map[string]error{long: nil}, v: vals(KeyTopics, long), wantErr: plugins.ErrInvalidValue},
		{name: "regex", topics: map[string]error{"t_a": nil, "t_b": nil, "u": nil, "t_gone": kerr.UnknownTopicOrPartition},
			v: vals(KeyTopicsRegex, "t_.*"), want: "[t_a:0 t_b:0]"},
		{name: "regex name too long", topics: map[string]error{"t_a": nil, long: nil}, v: vals(KeyTopicsRegex, "t_.*"),
			want: "[t_a:0]", skipped: []string{long}},
		{name: "regex collision: first by name", topics: map[string]error{"t_a": nil, "t_b": nil, "t_c": nil},
			v: vals(KeyTopicsRegex, "t_.*", KeyTopicRename, "one"), want: "[t_a:0]", skipped: []string{"t_b", "t_c"}},
		{name: "regex collision: the topic read wins", topics: map[string]error{"t_a": nil, "t_b": nil},
			v: vals(KeyTopicsRegex, "t_.*", KeyTopicRename, "one"), reading: map[string]bool{"t_b": true}, want: "[t_b:0]", skipped: []string{"t_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, skipped, err := selectPartitions(listing(tt.topics), tt.v, tt.reading)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, tt.retry, plugins.IsRetriable(err), err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, fmt.Sprint(parts))
			var names []string
			for topic, reason := range skipped {
				require.Contains(t, reason, KeyTopicRename, "the reason names the key to change")
				names = append(names, topic)
			}
			require.ElementsMatch(t, tt.skipped, names)
		})
	}
}

func TestAuthFailure(t *testing.T) {
	for _, err := range []error{kerr.SaslAuthenticationFailed, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.UnsupportedSaslMechanism, &kadm.AuthError{Err: kerr.TopicAuthorizationFailed},
		fmt.Errorf("metadata: %w", kerr.SaslAuthenticationFailed)} {
		require.True(t, authFailure(err), "%v", err)
	}
	for _, err := range []error{kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable, kerr.GroupAuthorizationFailed,
		fmt.Errorf("dial tcp: connection refused")} {
		require.False(t, authFailure(err), "%v", err)
	}
}

func TestStartOffsetsRoundTrip(t *testing.T) {
	const idA = "AAAAAAAAAAAAAAAAAAAAAQ"
	parts := []topicPartition{{"a", 0}, {"a", 1}, {"b.c", 0}, {"d", 3}}
	// d:3 was found later; b.c's id is unknown (a cluster without topic ids).
	starts := map[topicPartition]topicOffset{{"a", 0}: {15, idA}, {"a", 1}: {0, idA}, {"b.c", 0}: {7, ""}}
	offsets, ids := formatStarts(starts, parts, 0, 2)
	require.Equal(t, "a:0=15,b.c:0=7", offsets)
	require.Equal(t, "a="+idA, ids)
	offsets, ids = formatStarts(starts, parts, 1, 2)
	require.Equal(t, "a:1=0", offsets)
	require.Equal(t, "a="+idA, ids)
	offsets, ids = formatStarts(starts, parts, 0, 1)
	require.Equal(t, "a="+idA, ids, "each topic once")
	got, err := parseStarts(offsets, ids)
	require.NoError(t, err)
	require.Equal(t, starts, got)
	// A config written before start offsets had topic ids.
	got, err = parseStarts("a:0=15, b.c:0=7,", "")
	require.NoError(t, err)
	require.Equal(t, map[topicPartition]topicOffset{{"a", 0}: {15, ""}, {"b.c", 0}: {7, ""}}, got)
	// A config with the ids in the offsets; such an id wins over kafka.task.start.topic.ids.
	got, err = parseStarts("a:0=15@"+idA+",b.c:0=7", "")
	require.NoError(t, err)
	require.Equal(t, map[topicPartition]topicOffset{{"a", 0}: {15, idA}, {"b.c", 0}: {7, ""}}, got)
	got, err = parseStarts("a:0=15@"+idA+",a:1=3", "a=other")
	require.NoError(t, err)
	require.Equal(t, map[topicPartition]topicOffset{{"a", 0}: {15, idA}, {"a", 1}: {3, "other"}}, got)
	got, err = parseStarts("", "")
	require.NoError(t, err)
	require.Empty(t, got)
	for _, bad := range []string{"a:0", "a=1", "a:0=x", "a:0=-1", ":0=1", "a:0=1@", "a:0=@id"} {
		_, err := parseStarts(bad, "")
		require.ErrorIs(t, err, ErrBadTaskConfig, bad)
	}
	for _, bad := range []string{"a", "=" + idA, "a=", "a=x@y", "a=x=y"} {
		_, err := parseStarts("a:0=1", bad)
		require.ErrorIs(t, err, ErrBadTaskConfig, bad)
	}
}

// previousParseStarts is how a release before topic ids read kafka.task.start.offsets: an int64 after
// the last '='.
func previousParseStarts(s string) (map[topicPartition]int64, error) {
	out := map[topicPartition]int64{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '=')
		var off int64
		var err error
		if i > 0 {
			off, err = strconv.ParseInt(item[i+1:], 10, 64)
		}
		if i <= 0 || err != nil || off < 0 {
			return nil, fmt.Errorf("%w: %s: %q is not topic:partition=offset", ErrBadTaskConfig, KeyTaskStarts, item)
		}
		ps, err := parsePartitions(item[:i])
		if err != nil || len(ps) != 1 {
			return nil, fmt.Errorf("%w: %s: %q is not topic:partition=offset", ErrBadTaskConfig, KeyTaskStarts, item)
		}
		out[ps[0]] = off
	}
	return out, nil
}

// TestTaskConfigsReadByPreviousRelease: during a rolling upgrade a worker of a release before topic ids
// may run a task whose config this release wrote with latest. Its kafka.task.start.offsets reads with
// that release's rules (which ignore kafka.task.start.topic.ids, a key its spec does not declare), and
// this release reads the ids back from kafka.task.start.topic.ids.
func TestTaskConfigsReadByPreviousRelease(t *testing.T) {
	c := NewSourceConnector()
	c.cfg = map[string]string{KeyTopics: "a,b,c", KeyStart: offsetLatest, KeyTaskStartIDs: "a=forged"}
	c.parts = []topicPartition{{"a", 0}, {"a", 1}, {"b", 0}, {"c", 0}}
	// c's id is unknown (a cluster without topic ids).
	c.starts = map[topicPartition]topicOffset{{"a", 0}: {5, "idA"}, {"a", 1}: {6, "idA"}, {"b", 0}: {8, "idB"}, {"c", 0}: {9, ""}}
	cfgs, err := c.TaskConfigs(2)
	require.NoError(t, err)
	require.Len(t, cfgs, 2)
	for i, cfg := range cfgs {
		prev, err := previousParseStarts(cfg[KeyTaskStarts])
		require.NoError(t, err, "task %d: %s=%q", i, KeyTaskStarts, cfg[KeyTaskStarts])
		got, err := parseStarts(cfg[KeyTaskStarts], cfg[KeyTaskStartIDs])
		require.NoError(t, err)
		parts, err := parsePartitions(cfg[KeyTaskPartitions])
		require.NoError(t, err)
		want, wantPrev := map[topicPartition]topicOffset{}, map[topicPartition]int64{}
		for _, p := range parts {
			want[p], wantPrev[p] = c.starts[p], c.starts[p].offset
		}
		require.Equal(t, wantPrev, prev, "task %d", i)
		require.Equal(t, want, got, "task %d", i)
	}
	require.Equal(t, "a=idA,b=idB", cfgs[0][KeyTaskStartIDs])
	require.Equal(t, "a=idA", cfgs[1][KeyTaskStartIDs], "a topic without an id is not named")
	c.starts = map[topicPartition]topicOffset{{"c", 0}: {9, ""}}
	cfgs, err = c.TaskConfigs(1)
	require.NoError(t, err)
	require.Equal(t, "c:0=9", cfgs[0][KeyTaskStarts])
	require.NotContains(t, cfgs[0], KeyTaskStartIDs, "no topic with an id: no key")
}

// TestSourceOffsetRoundTrip: the source offset of a record, after the position store's JSON round trip,
// reads back as the offset and topic id it was made of; an offset stored without an id (by an earlier
// version) reads with none, which matches any topic.
func TestSourceOffsetRoundTrip(t *testing.T) {
	id := topicIDString([16]byte{0: 0xfb, 15: 1})
	require.Equal(t, "-wAAAAAAAAAAAAAAAAAAAQ", id, "unpadded URL-safe base64, as Kafka prints topic ids")
	require.Empty(t, topicIDString([16]byte{}), "the zero id is none")
	tests := []struct {
		name    string
		off     map[string]any
		want    int64
		wantID  string
		ok      bool
		wantErr bool
	}{
		{name: "with id", off: conformance.JSONRoundTrip(t, sourceOffset(41, id)), want: 41, wantID: id, ok: true},
		{name: "without id", off: conformance.JSONRoundTrip(t, sourceOffset(41, "")), want: 41, ok: true},
		{name: "stored by an earlier version", off: map[string]any{OffsetKey: float64(7)}, want: 7, ok: true},
		{name: "null id", off: map[string]any{OffsetKey: int64(7), TopicIDKey: nil}, want: 7, ok: true},
		{name: "nothing committed", off: nil},
		{name: "id not a string", off: map[string]any{OffsetKey: int64(7), TopicIDKey: float64(3)}, wantErr: true},
		{name: "offset missing", off: map[string]any{TopicIDKey: id}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, gotID, ok, err := storedOffset(tt.off)
			if tt.wantErr {
				require.ErrorIs(t, err, position.ErrBadPosition)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, off)
			require.Equal(t, tt.wantID, gotID)
		})
	}
	require.NotContains(t, sourceOffset(3, ""), TopicIDKey)
	require.True(t, sameTopic(id, id))
	require.True(t, sameTopic("", id), "an offset without an id is the current topic's")
	require.True(t, sameTopic(id, ""), "a cluster without topic ids cannot tell")
	require.False(t, sameTopic(id, topicIDString([16]byte{1})))
}
