package console

import (
	"context"
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
	config  map[string]string // the connector's config; formConfig when nil
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
		cfg := f.config
		if cfg == nil {
			cfg = formConfig
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "sink", "type": "sink", "tasks": []any{}, "config": cfg})
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
		f.patched = nil // the latest PATCH's body alone
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

// setInput types value into the form's field for key, as a user does.
func setInput(t *testing.T, ctx context.Context, key, value string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`((key, value) => {
		const i = document.querySelector('div.field[data-field="' + key + '"] input');
		i.value = value; i.dispatchEvent(new Event('input')); return true; })(`+jsString(key)+`, `+jsString(value)+`)`))
	require.NoError(t, err)
}

// setJSON replaces the JSON tab's text, as a user does.
func setJSON(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const j = document.getElementById('raw-json');
		j.value = `+jsString(text)+`; j.dispatchEvent(new Event('input')); return true; })()`))
	require.NoError(t, err)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (f *formAPI) patch() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patched
}

// A key the config sets to "" is a value like any other: an edit of another field keeps it
// (the PATCH names only what changed), and the JSON tab shows it and sends it.
func TestFormKeepsEmptyValues(t *testing.T) {
	api := &formAPI{config: map[string]string{"connector.class": "file-sink", "name": "sink", "connect.topicnames": "t",
		"filename": "/tmp/out", "file.prefix": ""}}
	url := consoleServer(t, api)
	ctx := browser(t)

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")))
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found.'`)
	setInput(t, ctx, "filename", "/tmp/other")
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	require.Equal(t, map[string]any{"filename": "/tmp/other"}, api.patch(), "file.prefix, untouched, is kept")

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")),
		chromedp.Click(chromedp.ID("tab-json")))
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`JSON.parse(document.getElementById('raw-json').value)`))
	require.NoError(t, err)
	require.Equal(t, api.config, shown)
	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/out", "file.prefix": "", "file.suffix": ""}`)
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found.'`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	require.Equal(t, map[string]any{"file.suffix": ""}, api.patch(), "an empty value written in the JSON tab is sent")

	// Clearing a field removes its key.
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")))
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found.'`)
	setInput(t, ctx, "file.prefix", "p")
	setInput(t, ctx, "file.prefix", "")
	setInput(t, ctx, "connect.topicnames", "u")
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	require.Equal(t, map[string]any{"connect.topicnames": "u", "file.prefix": nil}, api.patch())
}

// The JSON tab takes a config as the worker does: numbers as written (not as a JavaScript
// number would print them), booleans as their text, and null, objects and arrays refused
// naming the key, never saved as "" or "[object Object]".
func TestFormJSONValuesAsWritten(t *testing.T) {
	api := &formAPI{}
	url := consoleServer(t, api)
	ctx := browser(t)

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")),
		chromedp.Click(chromedp.ID("tab-json")))
	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/out",
		"start.offset": 12345678901234567890, "ratio": 1.50, "append": true, "nested": {"a": 1}, "list": ["a"], "gone": null}`)
	waitJS(t, ctx, wait, `document.getElementById('raw-json').getAttribute('aria-invalid') === 'true' &&
		document.getElementById('raw-json-err').textContent === 'nested: an object is not allowed, a config value must be a string, number or boolean; '+
		'list: an array is not allowed, a config value must be a string, number or boolean; '+
		'gone: null is not allowed, a config value must be a string, number or boolean'`)

	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/out",
		"start.offset": 12345678901234567890, "ratio": 1.50, "append": true}`)
	waitJS(t, ctx, wait, `!document.getElementById('raw-json').hasAttribute('aria-invalid') &&
		document.getElementById('problems').textContent === 'No problems found.'`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	require.Equal(t, map[string]any{"filename": "/tmp/out", "start.offset": "12345678901234567890", "ratio": "1.50", "append": "true",
		"connect_topicnames": nil, "filenmae": nil}, api.patch())
}

// While the JSON tab's text does not parse, Save saves nothing: the config it would save is
// the last text that parsed, not the one on the screen.
func TestFormJSONNotSavedWhileInvalid(t *testing.T) {
	api := &formAPI{}
	url := consoleServer(t, api)
	ctx := browser(t)

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")),
		chromedp.Click(chromedp.ID("tab-json")))
	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/a"}`)
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent === 'No problems found.'`)
	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/b`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `document.getElementById('announce').textContent.startsWith('Not saved: Not valid JSON: ') &&
		document.activeElement === document.getElementById('raw-json')`)
	require.Nil(t, api.patch(), "nothing saved")
	require.Equal(t, "#/connectors/sink/edit", mustEval[string](t, ctx, `location.hash`))

	setJSON(t, ctx, `{"connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/b"}`)
	waitJS(t, ctx, wait, `!document.getElementById('raw-json').hasAttribute('aria-invalid')`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/sink'`)
	require.Equal(t, map[string]any{"filename": "/tmp/b", "connect_topicnames": nil, "filenmae": nil}, api.patch())
}

func mustEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err)
	return v
}

// Every field's label and descriptions are its own, also for two keys whose ids fold to one
// (connect.topicnames and the typo connect_topicnames): a screen reader on the typo's input
// hears the typo's help and errors, and its label focuses it, not the key it resembles.
func TestFormFieldsOwnTheirIDs(t *testing.T) {
	api := &formAPI{}
	url := consoleServer(t, api)
	ctx := browser(t)

	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/sink/edit"), chromedp.WaitVisible(chromedp.ID("f-filename")))
	waitJS(t, ctx, wait, `document.getElementById('problems').textContent !== ''`)
	strays := mustEval[[]string](t, ctx, `[...document.querySelectorAll('div.field')].flatMap((f) => {
		const input = f.querySelector('input, select');
		const out = [];
		if (f.querySelector('label').control !== input) out.push(f.dataset.field + ': label');
		for (const id of input.getAttribute('aria-describedby').split(' ')) {
			if (!f.contains(document.getElementById(id))) out.push(f.dataset.field + ': ' + id);
		}
		return out;
	})`)
	require.Empty(t, strays, "labels or descriptions naming another field's elements")

	// An error still stands beside its own field.
	setInput(t, ctx, "connect.topicnames", "")
	waitJS(t, ctx, wait, `document.querySelector('div.field[data-field="connect.topicnames"] p.err').textContent === 'is required' &&
		document.querySelector('div.field[data-field="connect.topicnames"] input').getAttribute('aria-invalid') === 'true' &&
		document.querySelector('div.field[data-field="connect_topicnames"] p.err').textContent === '' &&
		!document.querySelector('div.field[data-field="connect_topicnames"] input').hasAttribute('aria-invalid')`)
}

// A typed address with a malformed percent-escape is a page that does not exist: the console
// says "Not found" (decodeURI threw, and the page stayed blank).
func TestMalformedAddressIsNotFound(t *testing.T) {
	url := consoleServer(t, &formAPI{})
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors/%E0"))
	waitJS(t, ctx, wait, `document.querySelector('#main h1') && document.querySelector('#main h1').textContent === 'Not found'`)
	require.Equal(t, "#/connectors/%E0", mustEval[string](t, ctx, `location.hash`))
	require.Contains(t, mustEval[string](t, ctx, `document.querySelector('#main code').textContent`), "%E0")
}
