package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestErrorPolicyRetryDelayMax: errors.retry.delay.max.ms takes what Kafka Connect's config
// takes and means it: 0 is retries that do not wait (it used to become the 60 s default
// silently). A negative cap, which Kafka Connect takes only to fail the task at its first
// retry, is a config error naming the key, without the "-1" errors.retry.timeout takes.
func TestErrorPolicyRetryDelayMax(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		bad   bool
	}{
		{value: "", want: time.Minute},
		{value: "250", want: 250 * time.Millisecond},
		{value: "0", want: 0},
		{value: "-1", bad: true},
		{value: "-5", bad: true},
		{value: "soon", bad: true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			p, probs := parseErrorPolicy(map[string]string{"errors.retry.delay.max.ms": tc.value})
			if !tc.bad {
				require.Empty(t, probs)
				require.Equal(t, tc.want, p.retryDelayMax)
				return
			}
			require.Len(t, probs, 1)
			require.Equal(t, "errors.retry.delay.max.ms", probs[0].Key)
			require.Equal(t, tc.value, probs[0].Value)
			require.NotContains(t, probs[0].Reason, "-1", "-1 means nothing for a delay")
		})
	}
	_, probs := parseErrorPolicy(map[string]string{"errors.retry.timeout": "-2"})
	require.Len(t, probs, 1)
	require.Equal(t, "errors.retry.timeout", probs[0].Key)
	require.Contains(t, probs[0].Reason, "-1 to retry forever")
}

// TestSendPolicyWaitsWithADelayCapOfZero: the retries of a source's sends while the broker is down
// keep at least their first delay when errors.retry.delay.max.ms is 0 (which makes the connector's
// own retries not wait), instead of sending back to back for two minutes.
func TestSendPolicyWaitsWithADelayCapOfZero(t *testing.T) {
	p, probs := parseErrorPolicy(map[string]string{"errors.retry.delay.max.ms": "0"})
	require.Empty(t, probs)
	require.Equal(t, 100*time.Millisecond, sendPolicy(p).retryDelayMax)
	p, _ = parseErrorPolicy(map[string]string{})
	require.Equal(t, sendRetryDelayMax, sendPolicy(p).retryDelayMax)
}
