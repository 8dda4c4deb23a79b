package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func TestOffsetsRoutes(t *testing.T) {
	f := newFakeHerder()
	ctx := context.Background()
	_, err := f.CreateConnector(ctx, "c", map[string]string{"connector.class": "file-source"}, restapi.TargetStopped)
	require.NoError(t, err)
	f.SetOffsets("c", []restapi.ConnectorOffset{{Partition: map[string]any{"f": "a"}, Offset: map[string]any{"p": 1}}})
	_, err = f.CreateConnector(ctx, "running", map[string]string{"connector.class": "file-source"}, "")
	require.NoError(t, err)
	h := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, f, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	code, v := callJSON(t, h, http.MethodGet, "/connectors/c/offsets", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, arr(t, obj(t, v)["offsets"]), 1)
	requireError(t, h, http.MethodGet, "/connectors/x/offsets", "", http.StatusNotFound)
	code, v = callJSON(t, h, http.MethodPatch, "/connectors/c/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"p":7}},{"partition":{"f":"b"},"offset":null}]}`)
	require.Equal(t, http.StatusOK, code, v)
	altered := f.OffsetAlterations()
	require.Len(t, altered, 1)
	require.Len(t, altered[0], 2)
	require.Nil(t, altered[0][1].Offset)
	requireError(t, h, http.MethodPatch, "/connectors/c/offsets", `{"offset":[]}`, http.StatusBadRequest)
	code, _ = callJSON(t, h, http.MethodDelete, "/connectors/c/offsets", "")
	require.Equal(t, http.StatusOK, code)
	offs, err := f.Offsets(ctx, "c")
	require.NoError(t, err)
	require.Empty(t, offs.Offsets, "reset")
}

// TestOffsetsRoutesAnswerAsKafkaConnect: the answers Kafka Connect's ConnectorsResource gives
// to a bad offsets request. An empty or missing list, or data after the body's object, is a
// 400; so is a change of a connector that is not STOPPED (it used to be 409).
func TestOffsetsRoutesAnswerAsKafkaConnect(t *testing.T) {
	h, f := newTestServer(t)
	ctx := context.Background()
	_, err := f.CreateConnector(ctx, "c", map[string]string{"connector.class": "file-source"}, restapi.TargetStopped)
	require.NoError(t, err)
	_, err = f.CreateConnector(ctx, "running", map[string]string{"connector.class": "file-source"}, "")
	require.NoError(t, err)
	const one = `{"offsets":[{"partition":{"f":"a"},"offset":{"p":7}}]}`
	const noOffsets = "Partitions / offsets need to be provided for an alter offsets request"
	for _, tc := range []struct{ method, path, body, want string }{
		{http.MethodPatch, "/connectors/c/offsets", `{"offsets":[]}`, noOffsets},
		{http.MethodPatch, "/connectors/c/offsets", `{}`, noOffsets},
		{http.MethodPatch, "/connectors/c/offsets", `{"offsets":null}`, noOffsets},
		{http.MethodPatch, "/connectors/c/offsets", one + ` {"offsets":[]}`, "nothing after it"},
		{http.MethodPatch, "/connectors/c/offsets", one + `]`, "nothing after it"},
		{http.MethodPatch, "/connectors/running/offsets", one, "stop it"},
		{http.MethodDelete, "/connectors/running/offsets", "", "stop it"},
	} {
		requireError(t, h, tc.method, tc.path, tc.body, http.StatusBadRequest, tc.want)
	}
	require.Empty(t, f.OffsetAlterations())
}
