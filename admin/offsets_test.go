package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

type offsetsFake struct {
	*admintest.Herder
	altered []restapi.ConnectorOffset
	reset   bool
}

func (o *offsetsFake) Offsets(_ context.Context, name string) (restapi.ConnectorOffsets, error) {
	if name != "c" {
		return restapi.ConnectorOffsets{}, restapi.ErrNotFound
	}
	return restapi.ConnectorOffsets{Offsets: []restapi.ConnectorOffset{{Partition: map[string]any{"f": "a"}, Offset: map[string]any{"p": 1}}}}, nil
}

func (o *offsetsFake) AlterOffsets(_ context.Context, name string, offs []restapi.ConnectorOffset) error {
	if name == "running" {
		return restapi.ErrBadState
	}
	o.altered = offs
	return nil
}

func (o *offsetsFake) ResetOffsets(_ context.Context, name string) error {
	o.reset = true
	return nil
}

func TestOffsetsRoutes(t *testing.T) {
	f := &offsetsFake{Herder: newFakeHerder()}
	h := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, f, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	code, v := callJSON(t, h, http.MethodGet, "/connectors/c/offsets", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, arr(t, obj(t, v)["offsets"]), 1)
	requireError(t, h, http.MethodGet, "/connectors/x/offsets", "", http.StatusNotFound)
	code, v = callJSON(t, h, http.MethodPatch, "/connectors/c/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"p":7}},{"partition":{"f":"b"},"offset":null}]}`)
	require.Equal(t, http.StatusOK, code, v)
	require.Len(t, f.altered, 2)
	require.Nil(t, f.altered[1].Offset)
	requireError(t, h, http.MethodPatch, "/connectors/running/offsets", `{"offsets":[]}`, http.StatusConflict)
	requireError(t, h, http.MethodPatch, "/connectors/c/offsets", `{"offset":[]}`, http.StatusBadRequest)
	code, _ = callJSON(t, h, http.MethodDelete, "/connectors/c/offsets", "")
	require.Equal(t, http.StatusOK, code)
	require.True(t, f.reset)
}
