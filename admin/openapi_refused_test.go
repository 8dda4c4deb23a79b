package admin

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRefusedMutatingGETsAreDocumented: the RocketMQ Connect GET routes that change state
// answer 403 while restMutatingGetEnable is off (the default), and the OpenAPI document lists
// that answer for each of them, so a client generated from it, or a fuzzer checking answers
// against it (schemathesis in tests/faults), expects it.
func TestRefusedMutatingGETsAreDocumented(t *testing.T) {
	h, _ := newTestServer(t)
	doc, _ := loadOpenAPI(t)
	refused := 0
	for path, item := range doc.Paths {
		raw, ok := item["get"]
		if !ok {
			continue
		}
		var op operation
		require.NoError(t, json.Unmarshal(raw, &op), path)
		// ?config= turns GET /connectors/{name} into RocketMQ Connect's create; other routes ignore it.
		code, body := send(t, h, http.MethodGet, pathParam.ReplaceAllString(path, "x")+"?config=%7B%7D", "", nil)
		if code != http.StatusForbidden {
			continue
		}
		refused++
		require.Contains(t, body["message"], "restMutatingGetEnable", path)
		_, documented := op.Responses["403"]
		require.True(t, documented, "GET %s answers 403 by default but the document does not list it", path)
	}
	require.Equal(t, 7, refused, "the state-changing GET routes: stop/pause/resume all, a connector's stop/pause/resume, create")
}
