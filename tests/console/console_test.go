package console

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

const wait = 90 * time.Second // generous: the host is shared; nothing here measures speed

// TestConsole goes through the console as an operator would, on a real distributed worker: it
// creates a connector through the generated form (a field error shown, then fixed), sees its
// task RUNNING on the cluster page, pauses and resumes it, reads and replays a dead letter, and
// watches units move to a second worker when it joins. Every step is checked in the page and
// cross-checked with the REST API.
func TestConsole(t *testing.T) {
	rmqtest.Require(t)
	build(t)
	c := newCluster(t)
	w1 := c.start("console-w1")
	ctx := browser(t)

	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	var lines strings.Builder
	for i := range 5 {
		fmt.Fprintf(&lines, "line %d is not JSON\n", i)
	}
	require.NoError(t, os.WriteFile(in, []byte(lines.String()), 0o644))
	topic := rmqtest.Topic(t, 2)
	dlqTopic := rmqtest.Name(t, "dlq")

	// Background connectors made through the API: a sink whose JSON converter fails on every
	// line the form's connector writes (so its dead-letter queue fills), and a generator whose
	// steady rate gives the charts something to show.
	require.Equal(t, http.StatusCreated, w1.call(t, "POST", "/connectors", map[string]any{"name": "dlqsink", "config": map[string]string{
		"connector.class": "file-sink", "filename": filepath.Join(dir, "never.txt"), "connect.topicnames": topic,
		"task.group.id": rmqtest.Group(t), "value.converter": "json", "errors.tolerance": "all",
		"errors.deadletterqueue.topic.name": dlqTopic}}, nil))
	require.Equal(t, http.StatusCreated, w1.call(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "generator-source", "connect.topicname": rmqtest.Topic(t, 1), "rate": "20", "record.size": "64"}}, nil))

	t.Log("create a connector through the form, with a field error shown and fixed")
	do(t, ctx, wait,
		chromedp.Navigate(w1.url+"/ui/#/new"),
		chromedp.WaitVisible(chromedp.ID("plugin")),
		chromedp.SetValue(chromedp.ID("plugin"), "file-source"),
		chromedp.WaitVisible(chromedp.ID("f-filename")),
		chromedp.SendKeys(chromedp.ID("f-name"), "src"),
		chromedp.SendKeys(chromedp.ID("f-filename"), in),
		chromedp.SendKeys(chromedp.ID("f-connect_topicname"), topic),
		chromedp.SendKeys(chromedp.ID("f-value_converter"), "string"), // lines as they are, not JSON strings
		chromedp.SendKeys(chromedp.ID("f-batch_size"), "many"),
	)
	waitJS(t, ctx, wait, `document.getElementById('e-batch_size').textContent !== '' &&
		document.getElementById('f-batch_size').getAttribute('aria-invalid') === 'true'`)
	errText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("e-batch_size")))
	require.NoError(t, err)
	t.Logf("the field error shown: %q", errText)
	screenshot(t, ctx, "form")
	do(t, ctx, wait,
		chromedp.SendKeys(chromedp.ID("f-batch_size"), strings.Repeat(kb.Backspace, len("many"))),
		chromedp.SendKeys(chromedp.ID("f-batch_size"), "10"))
	waitJS(t, ctx, wait, `document.getElementById('e-batch_size').textContent === '' &&
		!document.getElementById('f-batch_size').hasAttribute('aria-invalid') &&
		document.getElementById('problems').textContent === 'No problems found.'`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("submit")))
	waitJS(t, ctx, wait, `location.hash === '#/connectors/src' && document.querySelector('#conn-state .badge') &&
		document.querySelector('#conn-state .badge').textContent === 'RUNNING'`)
	var info struct{ Config map[string]string }
	require.Equal(t, http.StatusOK, w1.call(t, "GET", "/connectors/src", nil, &info))
	require.Equal(t, "10", info.Config["batch.size"], "the corrected value was saved")
	require.Equal(t, in, info.Config["filename"])
	require.Equal(t, "string", info.Config["value.converter"])

	t.Log("the cluster page shows the task RUNNING on the worker")
	do(t, ctx, wait, chromedp.Navigate(w1.url+"/ui/#/cluster"))
	waitJS(t, ctx, wait, `(() => { const u = document.querySelector('section[data-worker^="console-w1"] [data-unit="src/0"]');
		return u && u.dataset.state === 'RUNNING'; })()`)
	require.Equal(t, "RUNNING", w1.status(t, "src").Tasks[0].State)

	t.Log("pause and resume, each confirmed in the dialog")
	do(t, ctx, wait, chromedp.Navigate(w1.url+"/ui/#/connectors/src"), chromedp.WaitVisible(chromedp.CSS(`[data-action="pause"]`)))
	for _, step := range []struct{ action, want string }{{"pause", "PAUSED"}, {"resume", "RUNNING"}} {
		do(t, ctx, wait,
			chromedp.Click(chromedp.CSS(`[data-action="`+step.action+`"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm-ok")),
			chromedp.Click(chromedp.ID("confirm-ok")))
		waitJS(t, ctx, wait, `document.querySelector('#conn-state .badge').textContent === '`+step.want+`' &&
			document.querySelector('#tasks tr[data-task="0"] .badge').textContent === '`+step.want+`'`)
		require.Equal(t, step.want, w1.status(t, "src").Connector.State, "after %s", step.action)
	}
	screenshot(t, ctx, "connector")

	t.Log("the connectors list")
	do(t, ctx, wait, chromedp.Navigate(w1.url+"/ui/#/connectors"))
	waitJS(t, ctx, wait, `(() => { const r = document.querySelector('tr[data-connector="gen"] td[data-tasks]');
		return r && r.dataset.tasks === '1/1' && document.querySelectorAll('#connectors tbody tr').length === 3; })()`)
	// Let the sampler take a few samples so the charts have lines.
	waitJS(t, ctx, wait, `document.querySelectorAll('tr[data-connector="gen"] polyline').length === 1`)
	screenshot(t, ctx, "connectors")

	t.Log("a dead letter: its detail, then replay")
	require.Eventually(t, func() bool {
		var page struct{ Records []struct{ ID string } }
		return w1.call(t, "GET", "/connectors/dlqsink/dlq", nil, &page) == http.StatusOK && len(page.Records) > 0
	}, wait, 200*time.Millisecond, "no dead letter from dlqsink")
	do(t, ctx, wait, chromedp.Navigate(w1.url+"/ui/#/connectors/dlqsink/dlq"),
		chromedp.WaitVisible(chromedp.CSS(`#dlq tr[data-record]`)))
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#dlq tr[data-record]').dataset.record`))
	require.NoError(t, err)
	do(t, ctx, wait, chromedp.Click(chromedp.CSS(`[data-detail="`+id+`"]`)))
	waitJS(t, ctx, wait, `document.querySelector('#dlq tr.detail:not([hidden])') &&
		document.querySelector('#dlq tr.detail:not([hidden])').textContent.includes('is not JSON')`)
	screenshot(t, ctx, "dlq")
	do(t, ctx, wait,
		chromedp.Click(chromedp.CSS(`[id="sel-`+id+`"]`)), // a record id holds colons, which an #id selector cannot
		chromedp.Click(chromedp.ID("replay-selected")),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok")))
	waitJS(t, ctx, wait, `document.getElementById('replay-result').textContent.startsWith('Replayed 1, skipped 0')`)
	var rec struct {
		Replayed *struct {
			MsgID string `json:"msg_id"`
		} `json:"replayed"`
	}
	require.Equal(t, http.StatusOK, w1.call(t, "GET", "/connectors/dlqsink/dlq/"+id, nil, &rec))
	require.NotNil(t, rec.Replayed, "the record is marked replayed")
	waitJS(t, ctx, wait, `document.querySelector('#dlq tr[data-record="`+id+`"] td:last-child').textContent.startsWith('yes')`)

	t.Log("replay all, after a confirmation: the record replayed before is skipped")
	do(t, ctx, wait,
		chromedp.Click(chromedp.ID("replay-all")),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")))
	waitJS(t, ctx, wait, `document.getElementById('confirm-text').textContent.includes('every record of the dead-letter queue')`)
	do(t, ctx, wait, chromedp.Click(chromedp.ID("confirm-ok")))
	// The worker refuses a replay that names no records ({"ids": []}), so the answer, not
	// the alert, shows that the page asked for every record.
	waitJS(t, ctx, wait, `/skipped [1-9]/.test(document.getElementById('replay-result').textContent) ||
		!document.getElementById('alert').hidden`)
	alert, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('alert').hidden ? '' : document.getElementById('alert').textContent`))
	require.NoError(t, err)
	require.Empty(t, alert, "replay all failed")
	result, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('replay-result').textContent`))
	require.NoError(t, err)
	require.Regexp(t, `^Replayed \d+, skipped [1-9]\d* `, result)

	t.Log("a second worker joins: units move to it while the cluster page watches")
	do(t, ctx, wait, chromedp.Navigate(w1.url+"/ui/#/cluster"))
	waitJS(t, ctx, wait, `document.querySelectorAll('section[data-worker^="console-w1"] [data-unit][data-state="RUNNING"]').length === 6`)
	w2 := c.start("console-w2")
	waitJS(t, ctx, 2*wait, `(() => {
		const moved = document.querySelectorAll('section[data-worker^="console-w2"] [data-unit][data-state="RUNNING"]');
		return moved.length > 0 && document.querySelectorAll('#moves li[data-move]').length > 0 &&
			document.querySelectorAll('[data-unit][data-state="RUNNING"]').length === 6; })()`)
	onW2, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('section[data-worker^="console-w2"] [data-unit]')].map(e => e.dataset.unit)`))
	require.NoError(t, err)
	t.Logf("units the page shows on console-w2: %v", onW2)
	for _, u := range onW2 {
		name, task, isTask := strings.Cut(u, "/")
		st := w2.status(t, name)
		if !isTask {
			require.True(t, strings.HasPrefix(st.Connector.WorkerID, "console-w2"), "connector %s runs on %s", name, st.Connector.WorkerID)
			continue
		}
		found := false
		for _, ts := range st.Tasks {
			if fmt.Sprint(ts.ID) == task {
				require.True(t, strings.HasPrefix(ts.WorkerID, "console-w2"), "task %s runs on %s", u, ts.WorkerID)
				found = true
			}
		}
		require.True(t, found, "task %s in the REST status", u)
	}
	screenshot(t, ctx, "cluster")
}
