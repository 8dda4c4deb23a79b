package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// scrape returns the metric names (samples, so histograms give _bucket, _sum and _count) a
// worker's /metrics exposes.
func scrape(t *testing.T, w *workerProc) map[string]bool {
	t.Helper()
	resp, err := http.Get(w.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	require.NoError(t, sc.Err())
	return names
}

// queriedNames are the metric names in PromQL expressions: identifiers of the worker's families
// (rmqconnect_, process_, go_) that are not label names or functions.
var queriedNames = regexp.MustCompile(`\b((?:rmqconnect|process|go)_[a-zA-Z0-9_]+)\b`)

// dashboardExprs returns every query of the Grafana dashboard (panels and variables).
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	var out []string
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q", p.Title)
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out = append(out, v.Definition)
		}
	}
	return out
}

// ruleExprs returns the expressions of the Prometheus rule file.
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Expr, "rule %s", r.Alert)
			out = append(out, r.Expr)
		}
	}
	return out
}

// TestDashboardAndAlertsQueryRealMetrics scrapes a running distributed worker with a source and
// a sink that have moved records, and checks that every metric the Grafana dashboard and the
// Prometheus alert rules query is one the worker really exposes.
func TestDashboardAndAlertsQueryRealMetrics(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w := c.start("worker-1")
	p := c.pipeline(t, w, "dash", 500)
	p.check(t, 500)

	var names map[string]bool
	var missing []string
	queried := map[string][]string{}
	for file, exprs := range map[string][]string{
		"distribution/grafana/rmqconnect-dashboard.json": dashboardExprs(t, "../../distribution/grafana/rmqconnect-dashboard.json"),
		"distribution/prometheus/rmqconnect-alerts.yaml": ruleExprs(t, "../../distribution/prometheus/rmqconnect-alerts.yaml"),
	} {
		require.NotEmpty(t, exprs, file)
		for _, e := range exprs {
			for _, m := range queriedNames.FindAllStringSubmatch(e, -1) {
				queried[m[1]] = append(queried[m[1]], file)
			}
		}
	}
	require.Greater(t, len(queried), 15, "the dashboard and rules query the worker's metrics")
	// Some families appear only once something happened (a commit, a rebalance, a batch):
	// scrape until every queried one is there, or report those that never appear.
	deadline := time.Now().Add(30 * time.Second)
	for {
		names = scrape(t, w)
		missing = missing[:0]
		for n := range queried {
			if !names[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		appendLines(t, p.in, 500, 10)
		time.Sleep(time.Second)
	}
	sort.Strings(missing)
	var detail []string
	for _, n := range missing {
		detail = append(detail, n+" (queried in "+strings.Join(queried[n], ", ")+")")
	}
	require.Empty(t, missing, "queried but not exposed by the worker:\n%s", strings.Join(detail, "\n"))
}
