package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "file-source_1.v2", "A.B", strings.Repeat("x", 249), "...", ".hidden"} {
		require.NoError(t, validateName(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", strings.Repeat("x", 250), "a b", " a", "a\n", "a/b", "a:b", "a%b", "ü", "a+b", "a\x00"} {
		require.ErrorIs(t, validateName(bad), errBadRequest, "%q", bad)
	}
}

func TestLocationHeader(t *testing.T) {
	h, _ := newTestServer(t)
	rec := httptest.NewRecorder()
	req := newRequest(http.MethodPost, "/connectors", strings.NewReader(srcBody))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "/connectors/src", rec.Header().Get("Location"))
	rec = httptest.NewRecorder()
	req = newRequest(http.MethodPut, "/connectors/s2/config", strings.NewReader(`{"connector.class":"file-sink"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "/connectors/s2", rec.Header().Get("Location"))
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
}

// FuzzDecodeConfig: any input is either rejected as bad input or yields one string per member
// of the object, strings unchanged and numbers and booleans as their JSON text.
func FuzzDecodeConfig(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":"b"}`, `{"a":3,"b":true,"c":-1.5e3}`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":null}`,
		`{"a":"\u00e9\n\"x\""}`, `{"a":1,"a":2}`, `[]`, `"x"`, `{`, ` { "a" : 0 } `, `{"a":"b"} trailing`, `{"n":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := decodeConfig(data, "config")
		if err != nil {
			require.ErrorIs(t, err, errBadRequest)
			return
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&obj))
		require.Len(t, cfg, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				require.Equal(t, v, cfg[k])
			case bool:
				require.Equal(t, map[bool]string{true: "true", false: "false"}[v], cfg[k])
			case json.Number:
				require.Equal(t, v.String(), cfg[k])
			default:
				t.Fatalf("key %q: %T accepted", k, v)
			}
		}
	})
}

// FuzzDecodeStrict: any input is either rejected as bad input, or is one JSON object with no
// member the body type lacks and nothing after it, decoded as a lenient decoder would.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"ids":["0-1"],"force":true}`, `{"id":["0-1"]}`, `{"ids":[]} {}`, `{"ids":[]}x`, ` {"force":false} `,
		`null`, `[]`, `{"ids":"all"}`, `{`, `{"IDS":["0-1"]}`, `{"ids":["0-1"]}]`,
	} {
		f.Add([]byte(seed))
	}
	type body struct {
		IDs   []string `json:"ids"`
		Force bool     `json:"force"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got body
		if err := decodeStrict(data, &got, "a body"); err != nil {
			require.ErrorIs(t, err, errBadRequest)
			return
		}
		require.True(t, json.Valid(data), "accepted more than one JSON value: %q", data)
		var want body
		require.NoError(t, json.Unmarshal(data, &want))
		require.Equal(t, want, got)
	})
}
