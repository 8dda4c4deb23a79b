package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
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

// TestRetryGoesOnUntilTheTimeout: errors.retry.timeout is how long a failed operation is
// retried, as in Kafka Connect, whose last attempt is made as the timeout ends: a retry that
// stops when the next doubled delay would pass the timeout gave up at 0.7 s of 1 s (25.5 s of
// 30 s). A task's backoff hint that would put the next attempt past the timeout ends the
// retries at once instead of making that attempt late.
func TestRetryGoesOnUntilTheTimeout(t *testing.T) {
	p := errorPolicy{retryTimeout: time.Second, retryDelayMax: time.Minute}
	start := time.Now()
	var last time.Time
	attempts := 0
	err := p.retry(context.Background(), func() error {
		attempts++
		last = time.Now()
		return plugins.Retriable(errors.New("not yet"))
	}, plugins.IsRetriable)
	require.ErrorContains(t, err, "gave up")
	require.GreaterOrEqual(t, last.Sub(start), p.retryTimeout, "the last of %d attempts came before the timeout ended", attempts)

	p = errorPolicy{retryTimeout: 200 * time.Millisecond, retryDelayMax: time.Minute}
	attempts = 0
	err = p.retry(context.Background(), func() error {
		attempts++
		return &plugins.RetriableError{Err: errors.New("busy"), Backoff: time.Second}
	}, plugins.IsRetriable)
	require.ErrorContains(t, err, "gave up")
	require.Equal(t, 1, attempts, "no attempt is made past errors.retry.timeout")
}
