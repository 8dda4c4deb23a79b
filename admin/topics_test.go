package admin

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConnectorTopicsRoutes: GET lists a connector's topics; PUT .../topics/reset answers
// 202 with no body, as Kafka Connect does, and clears them.
func TestConnectorTopicsRoutes(t *testing.T) {
	h, f := newTestServer(t)
	_, err := f.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-source", "connect.topicname": "t1"}, "")
	require.NoError(t, err)
	code, v := callJSON(t, h, http.MethodGet, "/connectors/c/topics", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"c": map[string]any{"topics": []any{"t1"}}}, v)
	code, body := call(t, h, http.MethodPut, "/connectors/c/topics/reset", "")
	require.Equal(t, http.StatusAccepted, code)
	require.Empty(t, body)
	code, v = callJSON(t, h, http.MethodGet, "/connectors/c/topics", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"c": map[string]any{"topics": []any{}}}, v)
	requireError(t, h, http.MethodPut, "/connectors/ghost/topics/reset", "", http.StatusNotFound)
}
