package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// formAPI answers the calls the connector form makes for one file-sink connector, sink: its
// info, the plugin's definitions, validation (filename required; a key the plugin does not
// declare is a warning, with a suggestion for the typo filenmae) and the config's PATCH,
// which it keeps.
type formAPI struct {
	mu      sync.Mutex
	patched map[string]any
}

var formConfig = map[string]string{"connector.class": "file-sink", "name": "sink", "connect.topicnames": "t", "filenmae": "/tmp/out",
	"connect_topicnames": "t"}

func (f *formAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET /":
		fmt.Fprint(w, `{"worker_id":"w1","mode":"standalone","version":"test"}`)
	case "GET /connectors/sink":
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "sink", "type": "sink", "tasks": []any{}, "config": formConfig})
	case "GET /connector-plugins/file-sink/config":
		fmt.Fprint(w, `[
			{"name": "name", "type": "STRING", "required": true, "group": "Common", "order_in_group": 1},
			{"name": "connector.class", "type": "STRING", "required": true, "group": "Common", "order_in_group": 2},
			{"name": "connect.topicnames", "type": "LIST", "required": true, "group": "Common", "order_in_group": 3},
			{"name": "filename", "type": "STRING", "required": true, "group": "Connector", "order_in_group": 1}]`)
	case "PUT /connector-plugins/file-sink/config/validate":
		var cfg map[string]string
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		type value struct {
			Name   string   `json:"name"`
			Errors []string `json:"errors"`
		}
		type warning struct {
			Key        string `json:"key"`
			Message    string `json:"message"`
			Suggestion string `json:"suggestion,omitempty"`
		}
		var configs []map[string]value
		count := 0
		for _, k := range []string{"name", "connector.class", "connect.topicnames", "filename"} {
			v := value{Name: k, Errors: []string{}}
			if cfg[k] == "" {
				v.Errors = append(v.Errors, "is required")
				count++
			}
			configs = append(configs, map[string]value{"value": v})
		}
		var warnings []warning
		if _, ok := cfg["connect_topicnames"]; ok {
			warnings = append(warnings, warning{Key: "connect_topicnames", Message: "not read by the runtime or the connector; did you mean connect.topicnames?",
				Suggestion: "connect.topicnames"})
		}
		if _, ok := cfg["filenmae"]; ok {
			warnings = append(warnings, warning{Key: "filenmae", Message: "not read by the runtime or the connector; did you mean filename?", Suggestion: "filename"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "file-sink", "error_count": count, "groups": []string{}, "configs": configs,
			"warnings": warnings})
	case "PATCH /connectors/sink/config":
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		_ = json.Unmarshal(b, &f.patched)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "sink", "type": "sink", "tasks": []any{}, "config": formConfig})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":404,"message":"no route"}`)
	}
}

// The validate route's warnings are shown beside their field (on the JSON tab, under the
// form), apart from the errors and whether or not the key was touched, and counted in the
// status line; they do not stop a save.
func TestFormShowsValidationWarnings(t *testing.T) {
	api := &formAPI{}
	url := consoleServer(t, api)
	ctx := browser(t)

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filenmae")))
	waitJS(t, ctx, wait, `document.getElementById('w-filenmae').textContent === 'Warning: filenmae: not read by the runtime or the connector; did you mean filename?'`)
	// connect_topicnames and connect.topicnames share an id: the typo's warning stands beside the
	// typo, not beside the key it resembles.
	warnOf := func(key string) string {
		return `document.querySelector('div.field[data-field="` + key + `"] p.warn').textContent`
	}
	waitJS(t, ctx, wait, warnOf("connect_topicnames")+` === 'Warning: connect_topicnames: not read by the runtime or the connector; did you mean connect.topicnames?' && `+
		warnOf("connect.topicnames")+` === ''`)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
		warnClass: document.getElementById('w-filenmae').className,
		fieldError: document.getElementById('e-filenmae').textContent,
		invalid: document.getElementById('f-filenmae').hasAttribute('aria-invalid'),
		describedBy: document.getElementById('f-filenmae').getAttribute('aria-describedby'),
		problems: document.getElementById('problems').textContent,
	})`))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"warnClass":   "help warn",
		"fieldError":  "",
		"invalid":     false,
		"describedBy": "e-filenmae w-filenmae d-filenmae",
		"problems":    "1 problem (1 in fields not filled in yet). 2 warnings: keys nothing reads; saving is not blocked.",
	}, got)

	// On the JSON tab, a warning has no field to stand beside: it is listed under the form.
	setJSON := func(cfg string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const j = document.getElementById('raw-json');
			j.value = `+"`"+cfg+"`"+`; j.dispatchEvent(new Event('input')); return true; })()`))
		require.NoError(t, err)
	}
	do(t, ctx, wait, chromedp.Click(chromedp.ID("tab-json")))
	setJSON(`{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/out"}`)
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found.' &&
		document.getElementById('other-warnings').textContent === ''`)
	setJSON(`{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/out", "filenmae": "/tmp/out"}`)
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found. 1 warning: a key nothing reads; saving is not blocked.' &&
		document.getElementById('other-warnings').textContent === 'Warning: filenmae: not read by the runtime or the connector; did you mean filename?'`)

	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	api.mu.Lock()
	defer api.mu.Unlock()
	require.Equal(t, map[string]any{"filename": "/tmp/out", "connect_topicnames": nil}, api.patched,
		"a config with warnings only is saved (the key the JSON tab dropped is deleted)")
}
