package postgres_test

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
)

// The durations are bounded: a poll.interval.ms of 0 ended every read before anything arrived (streaming
// stopped without an error), a reconnect wait of 0 retried a down server in a busy loop.
func TestValidateDurations(t *testing.T) {
	c := postgres.NewConnector()
	base := map[string]string{"database.hostname": "h", "database.user": "u", "database.dbname": "d", "topic.prefix": "srv"}
	require.NoError(t, c.Validate(base))
	for _, tt := range []struct{ key, value string }{
		{postgres.KeyPollInterval, "0"},
		{postgres.KeyPollInterval, "2h"},
		{postgres.KeyReconnectBackoff, "0"},
		{postgres.KeyReconnectBackoff, "48h"},
	} {
		cfg := maps.Clone(base)
		cfg[tt.key] = tt.value
		err := c.Validate(cfg)
		require.ErrorIs(t, err, cfgerr.ErrInvalid, "%s=%s", tt.key, tt.value)
		require.ErrorContains(t, err, tt.key)
		require.ErrorContains(t, err, tt.value)
	}
	for _, tt := range []struct{ key, value string }{
		{postgres.KeyPollInterval, "1"}, {postgres.KeyPollInterval, "1m"},
		{postgres.KeyReconnectBackoff, "1"}, {postgres.KeyReconnectBackoff, "1h"},
	} {
		cfg := maps.Clone(base)
		cfg[tt.key] = tt.value
		require.NoError(t, c.Validate(cfg), "%s=%s", tt.key, tt.value)
	}
}
