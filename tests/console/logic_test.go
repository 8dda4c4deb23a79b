package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/ui"
)

// The console's own logic, in Chromium against the console's files (ui.Handler) and a
// state-based stand-in for the worker's API: what the page does when the API fails, recovers or
// answers slowly is set by the test, which a real worker cannot be made to do on cue.

// consoleServer serves the console at /ui/, an empty page at /blank (to import modules in) and
// api for every other path.
func consoleServer(t *testing.T, api http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, ui.Handler())
	mux.HandleFunc("/blank", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>blank</title>")
	})
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeAPI answers the calls the connectors page makes: GET / (who am I), GET /connectors
// (failing while fail is set) and GET /metrics (through metrics, when set).
type fakeAPI struct {
	fail    atomic.Bool
	metrics http.HandlerFunc
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/":
		fmt.Fprint(w, `{"worker_id":"w1","mode":"standalone","version":"test"}`)
	case "/connectors":
		if f.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error_code":500,"message":"the worker is unwell"}`)
			return
		}
		fmt.Fprint(w, `{}`)
	case "/metrics":
		if f.metrics != nil {
			f.metrics(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":404,"message":"no route"}`)
	}
}

// A task whose counter resets (it restarted, or moved here) while its sibling counts on adds
// what it counted since the reset, not minus the sum it had: the rate is each series' increase.
func TestMetricsRatePerSeries(t *testing.T) {
	url := consoleServer(t, &fakeAPI{})
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/blank"))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`import('/ui/js/metrics.js').then((m) => {
		const scrape = (t0, t1, e0) => m.counters([
			{ name: 'rmqconnect_source_record_write_total', labels: { worker: 'w1', connector: 'src', task: '0' }, value: t0 },
			{ name: 'rmqconnect_source_record_write_total', labels: { worker: 'w1', connector: 'src', task: '1' }, value: t1 },
			{ name: 'rmqconnect_task_error_total_record_failures', labels: { worker: 'w1', connector: 'src', task: '0' }, value: e0 },
			{ name: 'rmqconnect_source_record_write_total', labels: { worker: 'w1', connector: 'other' }, value: 7 },
		]);
		const r = m.rates(scrape(1e6, 1e6, 4), scrape(1e6 + 10, 5, 6), 2).get('src');
		return { rps: r.rps, eps: r.eps };
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.InDelta(t, 15.0/2, got["rps"], 1e-9, "task 0 counted 10, task 1 restarted and counted 5, over 2 s")
	require.InDelta(t, 2.0/2, got["eps"], 1e-9)

	first, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`import('/ui/js/metrics.js').then((m) => {
		const cur = m.counters([{ name: 'rmqconnect_sink_record_send_total', labels: { connector: 'snk', task: '0' }, value: 500 }]);
		return m.rates(new Map(), cur, 2).get('snk').rps;
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Zero(t, first, "a series seen for the first time adds nothing yet")
}

// An error of a page's polling is taken down once the polling succeeds again.
func TestErrorBannerClearsWhenPollingRecovers(t *testing.T) {
	api := &fakeAPI{}
	api.fail.Store(true)
	url := consoleServer(t, api)
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors"))
	waitJS(t, ctx, wait, `(() => { const a = document.getElementById('alert');
		return !a.hidden && a.textContent === 'the worker is unwell'; })()`)
	api.fail.Store(false)
	waitJS(t, ctx, wait, `document.getElementById('alert').hidden &&
		document.querySelector('#connectors tbody').textContent.includes('No connectors yet')`)
}

// The metrics sampler starts a scrape only once the last one ended, and gives a scrape that
// does not end up: a worker slow to answer /metrics never has the page's requests pile up.
func TestMetricsSamplerDoesNotPileUp(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, scrapes := 0, 0, 0
	first := make(chan struct{})
	var cut atomic.Bool // the first, hung scrape ended because the page gave it up
	api := &fakeAPI{metrics: func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		scrapes++
		n := scrapes
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		if n == 1 {
			close(first)
			<-r.Context().Done() // never answers: the page must give up on it
			cut.Store(true)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "rmqconnect_source_record_write_total{connector=\"src\",task=\"0\"} 1\n")
	}}
	url := consoleServer(t, api)
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors"))
	select {
	case <-first:
	case <-time.After(wait):
		t.Fatal("the page never scraped /metrics")
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return scrapes >= 3
	}, wait, 100*time.Millisecond, "the sampler stopped after a scrape that hung")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, most, "scrapes overlapped")
	require.True(t, cut.Load(), "the hung scrape was never given up")
}

// A connector whose series leave this worker's /metrics (its tasks moved to another worker, or
// it stopped or was deleted) moves nothing here any more: its rate falls to zero rather than
// its last rate standing as the current one.
func TestMetricsRateFallsToZeroWhenSeriesLeave(t *testing.T) {
	var mu sync.Mutex
	scrapes := 0
	api := &fakeAPI{metrics: func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scrapes++
		n := scrapes
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		switch n {
		case 1:
			fmt.Fprint(w, "rmqconnect_source_record_write_total{connector=\"src\",task=\"0\"} 0\n")
		case 2:
			fmt.Fprint(w, "rmqconnect_source_record_write_total{connector=\"src\",task=\"0\"} 1000\n")
		default: // the task moved to another worker
			fmt.Fprint(w, "rmqconnect_worker_connector_count{worker=\"w1\"} 0\n")
		}
	}}
	url := consoleServer(t, api)
	ctx := browser(t)
	do(t, ctx, wait, chromedp.Navigate(url+"/ui/#/connectors"))
	// A scrape starts only once the last one was taken in, so the fourth means the third was.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return scrapes >= 4
	}, wait, 100*time.Millisecond)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`import('/ui/js/metrics.js').then((m) => m.seriesOf('src').map((p) => p.rps))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(got), 2, "rates of scrapes 2 and 3")
	require.Positive(t, got[0], "1000 records between the first two scrapes")
	require.Zero(t, got[len(got)-1], "the task left: no records/s here now")
}
