package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// dlqAPI answers the calls the dead-letters page makes for connector c, whose DLQ holds the
// records recs (listed without body and stack trace, as the worker lists them).
type dlqAPI struct{ recs []map[string]any }

func (f *dlqAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/":
		fmt.Fprint(w, `{"worker_id":"w1","mode":"standalone","version":"test"}`)
	case r.URL.Path == "/connectors/c/dlq":
		list := []map[string]any{}
		for _, rec := range f.recs {
			short := map[string]any{}
			for k, v := range rec {
				if k != "body" && k != "stacktrace" {
					short[k] = v
				}
			}
			list = append(list, short)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"dlq_topic": "dlq-c", "records": list})
	case strings.HasPrefix(r.URL.Path, "/connectors/c/dlq/"):
		for _, rec := range f.recs {
			if rec["id"] == strings.TrimPrefix(r.URL.Path, "/connectors/c/dlq/") {
				_ = json.NewEncoder(w).Encode(rec)
				return
			}
		}
		fallthrough
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":404,"message":"no route"}`)
	}
}

// A record's detail shows its whole body, not the list's 256-byte preview: as text when it is
// UTF-8, else with the bytes that are not printable ASCII escaped; a record whose DLQ message
// could not be decoded shows why, not its stored bytes.
func TestDLQDetailShowsWholeBody(t *testing.T) {
	text := strings.Repeat("0123456789", 40) + " — end"
	binary := append([]byte(strings.Repeat("a", 300)), 0xff, 0x00, '\\', 'z')
	rec := func(id string, body []byte, preview string) map[string]any {
		return map[string]any{"id": id, "topic": "t", "partition": "0", "offset": "1", "task": "0", "stage": "VALUE_CONVERTER",
			"body_size": len(body), "body_preview": preview, "body": body}
	}
	api := &dlqAPI{recs: []map[string]any{
		rec("b:0:1", []byte(text), text[:256]),
		rec("b:0:2", binary, fmt.Sprintf("%q", binary[:256])),
		rec("b:0:3", []byte{0x1f, 0x8b, 0x08}, "<undecodable: body is compressed>"),
	}}
	url := consoleServer(t, api)
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/c/dlq"), chromedp.WaitVisible(`tr[data-record="b:0:3"]`))
	for i, id := range []string{"b:0:1", "b:0:2", "b:0:3"} {
		// One at a time: a detail opening moves the rows under it, and a click aimed before
		// the move would land on another row.
		do(t, ctx, wait, chromedp.Click(`button[data-detail="`+id+`"]`))
		waitJS(t, ctx, wait, fmt.Sprintf(`document.querySelectorAll('tr.detail:not([hidden])').length === %d`, i+1))
	}
	got := mustEval[[]string](t, ctx, `[...document.querySelectorAll('tr.detail pre:not(.trace)')].map((p) => p.textContent)`)
	require.Equal(t, []string{text, strings.Repeat("a", 300) + `\xff\x00\\z`, "<undecodable: body is compressed>"}, got)
}
