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
	requireError(t, h, http.MethodPatch, "/connectors/running/offsets", `{"offsets":[]}`, http.StatusConflict)
	requireError(t, h, http.MethodPatch, "/connectors/c/offsets", `{"offset":[]}`, http.StatusBadRequest)
	code, _ = callJSON(t, h, http.MethodDelete, "/connectors/c/offsets", "")
	require.Equal(t, http.StatusOK, code)
	offs, err := f.Offsets(ctx, "c")
	require.NoError(t, err)
	require.Empty(t, offs.Offsets, "reset")
}
