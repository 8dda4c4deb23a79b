package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// routeCase is one request of the sweep and what must come back.
type routeCase struct {
	route  string // "METHOD /template" exactly as admin/openapi.json names the operation
	path   string // the concrete path and query
	body   any    // sent as is when a string, else JSON-encoded; nil for none
	status int
	// outside marks a request admin/openapi.json does not describe (an unknown route, a wrong
	// method); its answer is checked against docs/rest-api.md alone.
	outside bool
	check   func(t require.TestingT, a *answer)
	// knownBug, when set, says how the route departs from its contract; the case is skipped
	// with its failures as long as they happen, and fails once they no longer do.
	knownBug string
}

// sweep runs cases against one worker and records which documented routes they reached.
type sweep struct {
	spec *apiSpec
	url  string
	ok   map[string]bool         // routes that answered a case with a 2xx
	seen map[string]map[int]bool // route → statuses the cases exercised
}

func (sw *sweep) run(t *testing.T, cases ...routeCase) {
	t.Helper()
	for _, c := range cases {
		method, _, _ := strings.Cut(c.route, " ")
		t.Run(fmt.Sprintf("%s %s %d", method, c.path, c.status), func(t *testing.T) {
			a := send(t, sw.url, method, c.path, c.body)
			if sw.seen[c.route] == nil {
				sw.seen[c.route] = map[int]bool{}
			}
			sw.seen[c.route][c.status] = true
			errs := collect(func(ct require.TestingT) { sw.verify(ct, c, a) })
			if len(errs) == 0 && a.status >= 200 && a.status < 300 {
				sw.ok[c.route] = true
			}
			switch {
			case c.knownBug != "" && len(errs) == 0:
				t.Errorf("marked as a known bug (%s), but the route now answers as documented: drop knownBug", c.knownBug)
			case c.knownBug != "":
				t.Skipf("known bug: %s\n%s", c.knownBug, strings.Join(errs, "\n"))
			default:
				for _, e := range errs {
					t.Error(e)
				}
			}
		})
	}
}

// verify checks the status, the answer against the route's documented response (content type,
// JSON schema, no body where none is documented), the error body of each dialect, and the
// case's own check.
func (sw *sweep) verify(t require.TestingT, c routeCase, a *answer) {
	method, template, _ := strings.Cut(c.route, " ")
	require.Equal(t, c.status, a.status, "%s %s answered %d: %s", method, c.path, a.status, a.raw)
	rmq := false
	_, documented := sw.spec.ops[c.route]
	require.False(t, c.outside && documented, "%s is in admin/openapi.json; drop outside", c.route)
	if !c.outside {
		p, _, _ := strings.Cut(c.path, "?")
		require.Regexp(t, templateRegexp(template), p, "case path does not match its route %s", c.route)
		resp, err := sw.spec.response(c.route, a.status)
		require.NoError(t, err)
		content, _ := resp["content"].(map[string]any)
		switch {
		case content == nil:
			require.Empty(t, a.raw, "no body is documented for %s %d", c.route, a.status)
		case content["application/json"] != nil:
			require.Contains(t, a.header.Get("Content-Type"), "application/json")
			require.NotNil(t, a.json, "the body is not JSON: %s", a.raw)
			schema, _ := content["application/json"].(map[string]any)["schema"].(map[string]any)
			var probs []string
			sw.spec.checkSchema(schema, a.json, "body", &probs)
			require.Empty(t, probs, "%s %d: the body differs from admin/openapi.json: %s", c.route, a.status, a.raw)
		case content["text/plain"] != nil:
			require.True(t, strings.HasPrefix(a.header.Get("Content-Type"), "text/plain"), "Content-Type %q", a.header.Get("Content-Type"))
		}
		rmq = sw.spec.isRocketMQ(c.route) || strings.Contains(c.path, "?config=")
	}
	if a.status >= 400 {
		code := "error_code"
		if rmq {
			code = "errorCode"
		}
		fields(t, a.json, code+":integer", "message:string")
		require.Equal(t, fmt.Sprint(a.status), fmt.Sprint(mustGet(t, a.json, code)), "%s equals the HTTP status", code)
		require.NotEmpty(t, str(t, a.json, "message"))
	}
	if c.check != nil {
		c.check(t, a)
	}
}

func mustGet(t require.TestingT, v any, path string) any {
	got, ok := get(v, path)
	require.True(t, ok, "field %q is missing in %s", path, compact(v))
	return got
}

// requireCovered fails for every operation of admin/openapi.json that no case answered with a
// 2xx, so a route added to the document without a sweep case fails this test; it logs the
// documented statuses no case reaches.
func (sw *sweep) requireCovered(t *testing.T) {
	t.Helper()
	var missing, unexercised []string
	for _, route := range sw.spec.order {
		if !sw.ok[route] {
			missing = append(missing, route)
		}
		for _, st := range sw.spec.documentedStatuses(route) {
			if !sw.seen[route][st] {
				unexercised = append(unexercised, fmt.Sprintf("%s %d", route, st))
			}
		}
	}
	for _, route := range slices.Sorted(maps.Keys(sw.seen)) {
		if _, ok := sw.spec.ops[route]; !ok {
			t.Logf("outside admin/openapi.json: %s", route)
		}
	}
	require.Empty(t, missing, "operations of admin/openapi.json without a passing 2xx case in TestRoutes")
	t.Logf("documented statuses no case reaches (they need a rebalance, a failing broker or a starting worker): %s",
		strings.Join(unexercised, ", "))
}

// Checks shared by the cases.

// listsNonConnectors checks that a plugin list holds a plugin of each kind in types; at is
// the path of the i-th plugin's type.
func listsNonConnectors(at string, types ...string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) {
		var got []string
		for i := 0; ; i++ {
			v, ok := get(a.json, fmt.Sprintf(at, i))
			if !ok {
				break
			}
			got = append(got, fmt.Sprint(v))
		}
		require.Subset(t, got, types, "every plugin is listed: transforms, predicates and converters too")
	}
}

// withName is cfg with its "name" key set.
func withName(cfg map[string]any, name string) map[string]any {
	out := maps.Clone(cfg)
	out["name"] = name
	return out
}

// isInfo checks a Kafka ConnectorInfo of connector name of type typ.
func isInfo(name, typ string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) {
		fields(t, a.json, "name:string", "config:object", "tasks:array", "type:string")
		require.Equal(t, name, str(t, a.json, "name"))
		require.Equal(t, typ, str(t, a.json, "type"))
		require.Equal(t, name, str(t, a.json, "config.name"))
	}
}

// isStatus checks a Kafka ConnectorStatus of connector name of type typ.
func isStatus(name, typ string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) {
		fields(t, a.json, "name:string", "connector:object", "connector.state:string", "connector.worker_id:string",
			"tasks:array", "type:string")
		require.Equal(t, name, str(t, a.json, "name"))
		require.Equal(t, typ, str(t, a.json, "type"))
		for i := range mustGet(t, a.json, "tasks").([]any) {
			fields(t, a.json, fmt.Sprintf("tasks.%d.id:integer", i), fmt.Sprintf("tasks.%d.state:string", i),
				fmt.Sprintf("tasks.%d.worker_id:string", i))
		}
	}
}

// jsonEq compares the body with want, a JSON text.
func jsonEq(want string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) { require.JSONEq(t, want, string(a.raw)) }
}

// envelope checks the RocketMQ success envelope and that its body equals want, a JSON text.
func envelope(want string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) {
		fields(t, a.json, "status:integer", "body")
		require.JSONEq(t, want, compact(mustGet(t, a.json, "body")))
	}
}

// message checks that the error message holds contains.
func message(contains string) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) { require.Contains(t, str(t, a.json, "message"), contains) }
}

// located checks the Location header of a creation, then the body with then.
func located(path string, then func(require.TestingT, *answer)) func(require.TestingT, *answer) {
	return func(t require.TestingT, a *answer) {
		require.Equal(t, path, a.header.Get("Location"))
		then(t, a)
	}
}

// TestRoutes calls every route of admin/openapi.json on a standalone worker with a real broker,
// a file source, a file sink and a sink that dead-letters every record, and checks each
// answer's status and shape against the document (and docs/rest-api.md): success, unknown
// connector (404), bad input (400), conflicts (409), in both dialects.
func TestRoutes(t *testing.T) {
	rmqtest.Require(t)
	spec := loadSpec(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	const lines = 20
	appendLines(t, in, 0, lines)
	topic, dlqTopic := rmqtest.Topic(t, 1), rmqtest.Topic(t, 1)
	// The sweep covers the RocketMQ Connect GET routes that change state, which are off by default.
	w := startWorkerWith(t, dir, clustertest.FreePort(t), "restMutatingGetEnable=true\n")
	sw := &sweep{spec: spec, url: w.URL, ok: map[string]bool{}, seen: map[string]map[int]bool{}}
	root := send(t, w.URL, "GET", "/", nil)
	require.Equal(t, http.StatusOK, root.status)
	workerID := str(t, root.json, "worker_id")

	// The source writes each line as is; snk writes them back; dlqsink decodes them as JSON,
	// which they are not, so every record goes to its dead-letter topic.
	srcCfg := map[string]any{"connector.class": "file-source", "filename": in, "connect.topicname": topic,
		"value.converter": "string"}
	snkCfg := map[string]any{"connector.class": "file-sink", "filename": out, "connect.topicnames": topic,
		"task.group.id": rmqtest.Group(t), "value.converter": "string"}
	dlqCfg := map[string]any{"connector.class": "file-sink", "filename": filepath.Join(dir, "never.txt"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "value.converter": "json",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlqTopic}
	extraCfg, err := json.Marshal(map[string]string{"connector.class": "file-sink", "filename": filepath.Join(dir, "extra.txt"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "value.converter": "string"})
	require.NoError(t, err)
	specRaw := string(spec.raw)

	t.Log("worker routes, no connectors yet")
	sw.run(t,
		routeCase{route: "GET /", path: "/", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "version:string", "commit:string", "worker_id:string", "cluster_id:string", "mode:string")
			require.Equal(t, "standalone", str(t, a.json, "mode"))
		}},
		routeCase{route: "GET /health", path: "/health", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "status:string", "message:string", "worker_id:string", "version:string")
			require.Equal(t, "healthy", str(t, a.json, "status"))
			require.Equal(t, workerID, str(t, a.json, "worker_id"))
		}},
		routeCase{route: "GET /openapi.json", path: "/openapi.json", status: 200, check: func(t require.TestingT, a *answer) {
			require.Equal(t, specRaw, string(a.raw), "the served document is admin/openapi.json")
		}},
		routeCase{route: "GET /connectors", path: "/connectors", status: 200, check: jsonEq(`[]`)},
		routeCase{route: "GET /connectors", path: "/connectors?expand=status", status: 200, check: jsonEq(`{}`)},
		routeCase{route: "GET /connectors/list", path: "/connectors/list", status: 200, check: envelope(`{}`)},
		routeCase{route: "GET /allocated/connectors", path: "/allocated/connectors", status: 200, check: envelope(`{}`)},
		routeCase{route: "GET /allocated/tasks", path: "/allocated/tasks", status: 200, check: envelope(
			`{"pendingTasks":[],"runningTasks":[],"stoppingTasks":[],"stoppedTasks":[],"errorTasks":[]}`)},
		routeCase{route: "GET /getClusterInfo", path: "/getClusterInfo", status: 200, check: envelope(`["` + workerID + `"]`)},
		routeCase{route: "GET /connectors/pause/all", path: "/connectors/pause/all", status: 200,
			check: envelope(`"No connector needs to be paused, please add connector first"`)},
		routeCase{route: "GET /connectors/resume/all", path: "/connectors/resume/all", status: 200,
			check: envelope(`"No connector needs to be resumed, please add connector first"`)},
		routeCase{route: "GET /connectors/stop/all", path: "/connectors/stop/all", status: 200,
			check: envelope(`"No connector needs to be deleted, please add connector first"`)},

		routeCase{route: "GET /connector-plugins", path: "/connector-plugins", status: 200, check: func(t require.TestingT, a *answer) {
			classes := map[string]string{}
			for i := range mustGet(t, a.json, "").([]any) {
				fields(t, a.json, fmt.Sprintf("%d.class:string", i), fmt.Sprintf("%d.type:string", i), fmt.Sprintf("%d.version:string", i))
				classes[str(t, a.json, fmt.Sprintf("%d.class", i))] = str(t, a.json, fmt.Sprintf("%d.type", i))
			}
			require.Equal(t, "source", classes["file-source"])
			require.Equal(t, "sink", classes["file-sink"])
			for c, typ := range classes {
				require.Contains(t, []string{"source", "sink"}, typ, "by default only connectors are listed: %s", c)
			}
		}},
		routeCase{route: "GET /connector-plugins", path: "/connector-plugins?connectorsOnly=false", status: 200,
			check: listsNonConnectors("%d.type", "source", "sink", "transformation", "predicate", "converter")},
		routeCase{route: "GET /connector-plugins", path: "/connector-plugins?connectorsOnly=false", status: 200,
			check: func(t require.TestingT, a *answer) {
				classes := map[string]string{}
				for i := range mustGet(t, a.json, "").([]any) {
					fields(t, a.json, fmt.Sprintf("%d.class:string", i), fmt.Sprintf("%d.type:string", i), fmt.Sprintf("%d.version:string", i))
					classes[str(t, a.json, fmt.Sprintf("%d.class", i))] = str(t, a.json, fmt.Sprintf("%d.type", i))
				}
				require.Equal(t, "source", classes["file-source"])
				require.Equal(t, "transformation", classes["InsertField$Value"])
				require.Equal(t, "predicate", classes["TopicNameMatches"])
				require.Equal(t, "converter", classes["json"])
			}},
		routeCase{route: "GET /connector-plugins", path: "/connector-plugins?connectorsOnly=maybe", status: 400,
			check: message("connectorsOnly")},
		routeCase{route: "GET /plugin/list", path: "/plugin/list", status: 200, check: func(t require.TestingT, a *answer) {
			require.Contains(t, compact(mustGet(t, a.json, "body")), `{"className":"file-source","type":"SOURCE"`)
		}},
		routeCase{route: "GET /plugin/list", path: "/plugin/list", status: 200,
			check: listsNonConnectors("body.%d.type", "SOURCE", "SINK", "TRANSFORMATION", "PREDICATE", "CONVERTER")},
		routeCase{route: "GET /plugin/list/connectors", path: "/plugin/list/connectors", status: 200, check: func(t require.TestingT, a *answer) {
			for i := range mustGet(t, a.json, "body").([]any) {
				fields(t, a.json, fmt.Sprintf("body.%d.className:string", i), fmt.Sprintf("body.%d.version:string", i))
				require.Contains(t, []string{"SOURCE", "SINK"}, str(t, a.json, fmt.Sprintf("body.%d.type", i)))
			}
		}},
		routeCase{route: "GET /plugin/config", path: "/plugin/config?plugin=file-source", status: 200, check: func(t require.TestingT, a *answer) {
			require.Contains(t, compact(mustGet(t, a.json, "body")), `connector.class`)
		}},
		routeCase{route: "GET /plugin/config/validate", path: "/plugin/config/validate?plugin=file-source&config=" +
			url.QueryEscape(`{"connector.class":"file-source"}`), status: 200},
		routeCase{route: "POST /plugin/config/validate", path: "/plugin/config/validate?plugin=file-source",
			body: map[string]string{"connector.class": "file-source"}, status: 200},
		routeCase{route: "PUT /plugin/config/validate", path: "/plugin/config/validate?className=file-source",
			body: map[string]string{"connector.class": "file-source"}, status: 200},
		routeCase{route: "GET /plugin/reload", path: "/plugin/reload", status: 200},
		routeCase{route: "POST /plugin/reload", path: "/plugin/reload", status: 200},
		routeCase{route: "GET /connector-plugins/{plugin}/config", path: "/connector-plugins/file-source/config", status: 200,
			check: func(t require.TestingT, a *answer) {
				var names []string
				for i := range mustGet(t, a.json, "").([]any) {
					fields(t, a.json, fmt.Sprintf("%d.name:string", i), fmt.Sprintf("%d.type:string", i), fmt.Sprintf("%d.required:boolean", i))
					names = append(names, str(t, a.json, fmt.Sprintf("%d.name", i)))
				}
				require.Subset(t, names, []string{"connector.class", "filename", "connect.topicname"})
			}},
		routeCase{route: "GET /connector-plugins/{plugin}/config", path: "/connector-plugins/nope/config", status: 404},
		routeCase{route: "PUT /connector-plugins/{plugin}/config/validate", path: "/connector-plugins/file-source/config/validate",
			body: withName(srcCfg, "src"), status: 200, check: func(t require.TestingT, a *answer) {
				fields(t, a.json, "name:string", "error_count:integer", "groups:array", "configs:array", "configs.0.definition:object", "configs.0.value:object")
				require.Equal(t, "0", fmt.Sprint(mustGet(t, a.json, "error_count")))
			}},
		routeCase{route: "PUT /connector-plugins/{plugin}/config/validate", path: "/connector-plugins/file-source/config/validate",
			body: map[string]any{"connector.class": "file-source", "max.tasks": "two"}, status: 200, check: func(t require.TestingT, a *answer) {
				require.NotEqual(t, "0", fmt.Sprint(mustGet(t, a.json, "error_count")))
				require.Contains(t, string(a.raw), "max.tasks")
			}},
		routeCase{route: "PUT /connector-plugins/{plugin}/config/validate", path: "/connector-plugins/file-source/config/validate",
			body: map[string]any{"connector.class": "file-sink"}, status: 400, check: message("file-sink")},
		routeCase{route: "PUT /connector-plugins/{plugin}/config/validate", path: "/connector-plugins/file-source/config/validate",
			body: `{"connector.class": `, status: 400},
		routeCase{route: "PUT /connector-plugins/{plugin}/config/validate", path: "/connector-plugins/nope/config/validate",
			body: map[string]any{"connector.class": "nope"}, status: 404},

		routeCase{route: "GET /admin/loggers", path: "/admin/loggers", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "root.level:string", "worker.level:string")
		}},
		routeCase{route: "GET /admin/loggers/{name}", path: "/admin/loggers/worker", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "level:string", "last_modified:null")
		}},
		routeCase{route: "GET /admin/loggers/{name}", path: "/admin/loggers/no.such.logger", status: 404},
		routeCase{route: "PUT /admin/loggers/{name}", path: "/admin/loggers/e2e.routes", body: map[string]string{"level": "debug"},
			status: 200, check: jsonEq(`["e2e.routes"]`)},
		routeCase{route: "GET /admin/loggers/{name}", path: "/admin/loggers/e2e.routes", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "level:string", "last_modified:integer")
			require.Equal(t, "DEBUG", str(t, a.json, "level"))
		}},
		routeCase{route: "PUT /admin/loggers/{name}", path: "/admin/loggers/e2e.routes", body: map[string]string{"level": "LOUD"}, status: 400},
		routeCase{route: "PUT /admin/loggers/{name}", path: "/admin/loggers/e2e.routes", body: map[string]string{}, status: 400},

		routeCase{route: "GET /nope", path: "/nope", status: 404, outside: true},
		routeCase{route: "DELETE /connectors", path: "/connectors", status: 405, outside: true},
	)

	t.Log("create the connectors in both dialects")
	sw.run(t,
		routeCase{route: "POST /connectors", path: "/connectors", body: map[string]any{"name": "src", "config": srcCfg},
			status: 201, check: located("/connectors/src", isInfo("src", "source"))},
		routeCase{route: "POST /connectors", path: "/connectors", body: map[string]any{"name": "src", "config": srcCfg},
			status: 409, check: message("src")},
		routeCase{route: "POST /connectors", path: "/connectors", body: map[string]any{"name": "x", "config": map[string]any{"connector.class": "nope"}},
			status: 400, check: message("connector.class")},
		routeCase{route: "POST /connectors", path: "/connectors", body: map[string]any{"name": "bad name!", "config": srcCfg}, status: 400},
		routeCase{route: "POST /connectors", path: "/connectors", body: `{"name": "x", "config": `, status: 400},
		routeCase{route: "PUT /connectors/{name}/config", path: "/connectors/snk/config", body: snkCfg,
			status: 201, check: located("/connectors/snk", isInfo("snk", "sink"))},
		routeCase{route: "PUT /connectors/{name}/config", path: "/connectors/snk/config", body: snkCfg, status: 200, check: isInfo("snk", "sink")},
		routeCase{route: "PUT /connectors/{name}/config", path: "/connectors/snk/config", body: map[string]any{"name": "other"},
			status: 400, check: message("name")},
		routeCase{route: "PUT /connectors/{name}/config", path: "/connectors/x/config",
			body: map[string]any{"connector.class": "file-sink", "filename": out}, status: 400, check: message("connect.topicnames")},
		routeCase{route: "POST /connectors/{name}", path: "/connectors/dlqsink", body: dlqCfg, status: 200, check: func(t require.TestingT, a *answer) {
			require.Equal(t, "dlqsink", str(t, a.json, "body.name"))
			require.Equal(t, dlqTopic, str(t, a.json, "body.errors.deadletterqueue.topic.name"))
		}},
		routeCase{route: "POST /connectors/{name}", path: "/connectors/x", body: "", status: 400, check: message("request body is required")},
		routeCase{route: "POST /connectors/{name}", path: "/connectors/x", body: map[string]any{"connector.class": "nope"},
			status: 400, check: message("connector.class")},
		routeCase{route: "GET /connectors/{name}", path: "/connectors/extra?config=" + url.QueryEscape(string(extraCfg)), status: 200,
			check: func(t require.TestingT, a *answer) {
				require.Equal(t, "extra", str(t, a.json, "body.name"))
				require.Equal(t, "file-sink", str(t, a.json, "body.connector.class"))
			}},
		routeCase{route: "GET /connectors/{name}", path: "/connectors/x?config=" + url.QueryEscape("{not json"), status: 400,
			check: message("not valid JSON")},
	)

	waitConnector(t, w, "src", "RUNNING", 1)
	waitConnector(t, w, "snk", "RUNNING", 1)
	waitConnector(t, w, "dlqsink", "RUNNING", 1)
	waitConnector(t, w, "extra", "RUNNING", 1)
	require.Eventually(t, func() bool { return countLines(out) == lines }, 60*time.Second, 100*time.Millisecond,
		"snk wrote %d of %d lines", countLines(out), lines)
	var firstDLQ, secondDLQ string
	require.Eventually(t, func() bool {
		a := send(t, w.URL, "GET", "/connectors/dlqsink/dlq", nil)
		recs, _ := get(a.json, "records")
		if list, _ := recs.([]any); a.status != http.StatusOK || len(list) < 2 {
			return false
		}
		firstDLQ, _ = mustGet(t, a.json, "records.0.id").(string)
		secondDLQ, _ = mustGet(t, a.json, "records.1.id").(string)
		return true
	}, 60*time.Second, 200*time.Millisecond, "dlqsink dead-lettered no records")

	t.Log("read the connectors")
	sw.run(t,
		routeCase{route: "GET /connectors", path: "/connectors", status: 200, check: jsonEq(`["dlqsink","extra","snk","src"]`)},
		routeCase{route: "GET /connectors", path: "/connectors?expand=status&expand=info", status: 200, check: func(t require.TestingT, a *answer) {
			for _, n := range []string{"dlqsink", "extra", "snk", "src"} {
				fields(t, a.json, n+".status.connector.state:string", n+".status.tasks:array", n+".info.config:object", n+".info.tasks:array")
				require.Equal(t, n, str(t, a.json, n+".info.name"))
			}
		}},
		routeCase{route: "GET /connectors", path: "/connectors?expand=status,info", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "src.status:object", "src.info:object")
		}},
		routeCase{route: "GET /connectors/{name}", path: "/connectors/src", status: 200, check: func(t require.TestingT, a *answer) {
			isInfo("src", "source")(t, a)
			fields(t, a.json, "tasks.0.connector:string", "tasks.0.task:integer")
			require.Equal(t, topic, str(t, a.json, "config.connect.topicname"))
		}},
		routeCase{route: "GET /connectors/{name}", path: "/connectors/ghost", status: 404, check: message("ghost")},
		routeCase{route: "GET /connectors/{name}/config", path: "/connectors/src/config", status: 200, check: func(t require.TestingT, a *answer) {
			require.Equal(t, in, str(t, a.json, "filename"))
			require.Equal(t, "src", str(t, a.json, "name"))
		}},
		routeCase{route: "GET /connectors/{name}/config", path: "/connectors/ghost/config", status: 404},
		routeCase{route: "GET /connectors/{name}/status", path: "/connectors/src/status", status: 200, check: func(t require.TestingT, a *answer) {
			isStatus("src", "source")(t, a)
			require.Equal(t, "RUNNING", str(t, a.json, "connector.state"))
			require.Equal(t, workerID, str(t, a.json, "connector.worker_id"))
		}},
		routeCase{route: "GET /connectors/{name}/status", path: "/connectors/ghost/status", status: 404},
		routeCase{route: "GET /connectors/{name}/tasks", path: "/connectors/snk/tasks", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "0.id.connector:string", "0.id.task:integer", "0.config:object")
			require.Equal(t, "snk", str(t, a.json, "0.id.connector"))
		}},
		routeCase{route: "GET /connectors/{name}/tasks", path: "/connectors/ghost/tasks", status: 404},
		routeCase{route: "GET /connectors/{name}/tasks/{task}/status", path: "/connectors/src/tasks/0/status", status: 200,
			check: func(t require.TestingT, a *answer) {
				fields(t, a.json, "id:integer", "state:string", "worker_id:string")
				require.Equal(t, "RUNNING", str(t, a.json, "state"))
			}},
		routeCase{route: "GET /connectors/{name}/tasks/{task}/status", path: "/connectors/src/tasks/9/status", status: 404},
		routeCase{route: "GET /connectors/{name}/tasks/{task}/status", path: "/connectors/src/tasks/x/status", status: 400},
		routeCase{route: "GET /connectors/{name}/tasks/{task}/status", path: "/connectors/ghost/tasks/0/status", status: 404},
		routeCase{route: "GET /connectors/list", path: "/connectors/list", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "body.src.status.connector.state:string", "body.src.status.connector.trace:null",
				"body.src.status.connector.workerId:string", "body.src.status.tasks.0.id:integer", "body.src.info.config:object")
			require.Equal(t, "SOURCE", str(t, a.json, "body.src.status.type"))
			require.Equal(t, "SINK", str(t, a.json, "body.snk.info.type"))
		}},
		routeCase{route: "GET /allocated/connectors", path: "/allocated/connectors", status: 200, check: func(t require.TestingT, a *answer) {
			require.Equal(t, "file-source", str(t, a.json, "body.src.connector.class"))
			require.Equal(t, "file-sink", str(t, a.json, "body.snk.connector.class"))
		}},
		routeCase{route: "GET /allocated/tasks", path: "/allocated/tasks", status: 200, check: func(t require.TestingT, a *answer) {
			running := mustGet(t, a.json, "body.runningTasks").([]any)
			require.Len(t, running, 4)
			fields(t, a.json, "body.runningTasks.0.connectorName:string", "body.runningTasks.0.taskId:integer",
				"body.runningTasks.0.config:object", "body.runningTasks.0.taskState:string")
		}},
		routeCase{route: "GET /connectors/{name}/topics", path: "/connectors/src/topics", status: 200, check: jsonEq(`{"src":{"topics":["` + topic + `"]}}`)},
		routeCase{route: "GET /connectors/{name}/topics", path: "/connectors/snk/topics", status: 200, check: jsonEq(`{"snk":{"topics":["` + topic + `"]}}`)},
		routeCase{route: "GET /connectors/{name}/topics", path: "/connectors/ghost/topics", status: 404},
		routeCase{route: "PUT /connectors/{name}/topics/reset", path: "/connectors/src/topics/reset", status: 202},
		routeCase{route: "GET /connectors/{name}/topics", path: "/connectors/src/topics", status: 200, check: jsonEq(`{"src":{"topics":[]}}`)},
		routeCase{route: "PUT /connectors/{name}/topics/reset", path: "/connectors/ghost/topics/reset", status: 404},
		routeCase{route: "GET /metrics", path: "/metrics", status: 200, check: func(t require.TestingT, a *answer) {
			require.Contains(t, string(a.raw), "rmqconnect_worker_connector_count")
			require.Contains(t, string(a.raw), `connector="src"`)
		}},
	)

	t.Log("change configs, restart, pause and resume")
	sw.run(t,
		routeCase{route: "PATCH /connectors/{name}/config", path: "/connectors/snk/config", body: map[string]any{"consumer.batch.size": 16},
			status: 200, check: func(t require.TestingT, a *answer) {
				isInfo("snk", "sink")(t, a)
				require.Equal(t, "16", str(t, a.json, "config.consumer.batch.size"))
			}},
		routeCase{route: "PATCH /connectors/{name}/config", path: "/connectors/snk/config", body: map[string]any{"consumer.batch.size": nil},
			status: 200, check: func(t require.TestingT, a *answer) {
				_, ok := get(a.json, "config.consumer.batch.size")
				require.False(t, ok, "null removes the key")
			}},
		routeCase{route: "PATCH /connectors/{name}/config", path: "/connectors/ghost/config", body: map[string]any{"a": "b"}, status: 404},
		routeCase{route: "PATCH /connectors/{name}/config", path: "/connectors/snk/config", body: map[string]any{"transforms": []string{"x"}},
			status: 400, check: message("transforms")},
		routeCase{route: "PATCH /connectors/{name}/config", path: "/connectors/snk/config", body: map[string]any{"max.tasks": "two"},
			status: 400, check: message("max.tasks")},
	)
	waitConnector(t, w, "snk", "RUNNING", 1)
	sw.run(t,
		routeCase{route: "POST /connectors/{name}/restart", path: "/connectors/snk/restart", status: 204},
		routeCase{route: "POST /connectors/{name}/restart", path: "/connectors/snk/restart?includeTasks=true", status: 202, check: isStatus("snk", "sink")},
		routeCase{route: "POST /connectors/{name}/restart", path: "/connectors/snk/restart?includeTasks=true&onlyFailed=true", status: 202,
			check: isStatus("snk", "sink")},
		routeCase{route: "POST /connectors/{name}/restart", path: "/connectors/snk/restart?includeTasks=maybe", status: 400, check: message("includeTasks")},
		routeCase{route: "POST /connectors/{name}/restart", path: "/connectors/ghost/restart", status: 404},
	)
	waitConnector(t, w, "snk", "RUNNING", 1)
	sw.run(t,
		routeCase{route: "POST /connectors/{name}/tasks/{task}/restart", path: "/connectors/snk/tasks/0/restart", status: 204},
		routeCase{route: "POST /connectors/{name}/tasks/{task}/restart", path: "/connectors/snk/tasks/9/restart", status: 404},
		routeCase{route: "POST /connectors/{name}/tasks/{task}/restart", path: "/connectors/snk/tasks/x/restart", status: 400},
		routeCase{route: "POST /connectors/{name}/tasks/{task}/restart", path: "/connectors/ghost/tasks/0/restart", status: 404},
	)
	waitConnector(t, w, "snk", "RUNNING", 1)
	sw.run(t, routeCase{route: "PUT /connectors/{name}/pause", path: "/connectors/snk/pause", status: 202})
	waitConnector(t, w, "snk", "PAUSED", 1)
	sw.run(t,
		routeCase{route: "POST /connectors/{name}/tasks/{task}/restart", path: "/connectors/snk/tasks/0/restart", status: 409,
			check: message("PAUSED")},
		routeCase{route: "GET /connectors/{name}/resume", path: "/connectors/snk/resume", status: 200,
			check: envelope(`"Connector [snk] resumed successfully"`)},
	)
	waitConnector(t, w, "snk", "RUNNING", 1)
	sw.run(t, routeCase{route: "GET /connectors/{name}/pause", path: "/connectors/snk/pause", status: 200,
		check: envelope(`"Connector [snk] paused successfully"`)})
	waitConnector(t, w, "snk", "PAUSED", 1)
	sw.run(t, routeCase{route: "PUT /connectors/{name}/resume", path: "/connectors/snk/resume", status: 202})
	waitConnector(t, w, "snk", "RUNNING", 1)
	sw.run(t,
		routeCase{route: "PUT /connectors/{name}/pause", path: "/connectors/ghost/pause", status: 404},
		routeCase{route: "PUT /connectors/{name}/resume", path: "/connectors/ghost/resume", status: 404},
		routeCase{route: "GET /connectors/{name}/pause", path: "/connectors/ghost/pause", status: 404, check: message("ghost")},
		routeCase{route: "GET /connectors/{name}/resume", path: "/connectors/ghost/resume", status: 404, check: message("ghost")},
	)

	t.Log("dead-letter queue")
	sw.run(t,
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/dlqsink/dlq", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "dlq_topic:string", "records:array", "records.0.id:string", "records.0.topic:string",
				"records.0.offset:string", "records.0.stage:string", "records.0.exception_message:string", "records.0.time:string",
				"records.0.body_size:integer", "records.0.body_preview:string")
			require.Equal(t, dlqTopic, str(t, a.json, "dlq_topic"))
			require.Equal(t, topic, str(t, a.json, "records.0.topic"))
			require.Equal(t, "VALUE_CONVERTER", str(t, a.json, "records.0.stage"))
			require.Equal(t, "line-00000", str(t, a.json, "records.0.body_preview"))
		}},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/dlqsink/dlq?limit=1", status: 200, check: func(t require.TestingT, a *answer) {
			require.Len(t, mustGet(t, a.json, "records").([]any), 1)
			require.Equal(t, firstDLQ, str(t, a.json, "next"))
		}},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/dlqsink/dlq?limit=1&after=" + firstDLQ, status: 200,
			check: func(t require.TestingT, a *answer) { require.Equal(t, secondDLQ, str(t, a.json, "records.0.id")) }},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/dlqsink/dlq?limit=0", status: 400, check: message("limit")},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/dlqsink/dlq?after=garbage", status: 400, check: message(`after="garbage"`)},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/ghost/dlq", status: 404},
		routeCase{route: "GET /connectors/{name}/dlq", path: "/connectors/src/dlq", status: 409},
		routeCase{route: "GET /connectors/{name}/dlq/{id}", path: "/connectors/dlqsink/dlq/" + firstDLQ, status: 200,
			check: func(t require.TestingT, a *answer) {
				fields(t, a.json, "id:string", "body:string", "stacktrace:string", "exception_class:string", "connector:string")
				require.Equal(t, "bGluZS0wMDAwMA==", str(t, a.json, "body"), "the body is base64")
				require.Equal(t, "dlqsink", str(t, a.json, "connector"))
			}},
		routeCase{route: "GET /connectors/{name}/dlq/{id}", path: "/connectors/dlqsink/dlq/0-999999", status: 404},
		routeCase{route: "GET /connectors/{name}/dlq/{id}", path: "/connectors/snk/dlq/0-0", status: 409},
		routeCase{route: "GET /connectors/{name}/dlq/{id}", path: "/connectors/ghost/dlq/0-0", status: 404},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: map[string]any{"ids": []string{firstDLQ}},
			status: 200, check: jsonEq(`{"replayed":["` + firstDLQ + `"],"skipped":[],"in_progress":[],"refused":[]}`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: map[string]any{"ids": []string{firstDLQ}},
			status: 200, check: jsonEq(`{"replayed":[],"skipped":["` + firstDLQ + `"],"in_progress":[],"refused":[]}`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: `{"ids": "all"}`, status: 400},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: `{"id": ["0-0"]}`, status: 400,
			check: message(`unknown field "id"`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay",
			body: map[string]any{"ids": []string{firstDLQ, "0-999999"}}, status: 404, check: message("0-999999")},
		// Replaying every record is asked for with "all": true, never by default: an empty
		// ids list, a body naming no records and all with ids are refused (the refusals
		// replay nothing: the replay of all below still sends secondDLQ).
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: `{"ids": []}`, status: 400,
			check: message(`ids is empty, so it names no record to replay; to replay every record send {"all": true} without ids`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: `{}`, status: 400,
			check: message(`body names no records: send {"ids": [...]} to replay those records, or {"all": true}`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", status: 400, check: message("body is empty")},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay",
			body: map[string]any{"all": true, "ids": []string{secondDLQ}}, status: 400, check: message(`ids and "all": true together`)},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/dlqsink/dlq/replay", body: map[string]any{"all": true},
			status: 200, check: func(t require.TestingT, a *answer) {
				fields(t, a.json, "replayed:array", "skipped:array", "in_progress:array", "refused:array")
				require.Contains(t, mustGet(t, a.json, "replayed"), secondDLQ)
				require.Contains(t, mustGet(t, a.json, "skipped"), firstDLQ)
			}},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/ghost/dlq/replay", body: map[string]any{"all": true}, status: 404},
		routeCase{route: "POST /connectors/{name}/dlq/replay", path: "/connectors/src/dlq/replay", body: map[string]any{"all": true}, status: 409},
	)

	t.Log("offsets")
	var srcOffsets any
	require.Eventually(t, func() bool {
		a := send(t, w.URL, "GET", "/connectors/src/offsets", nil)
		srcOffsets, _ = get(a.json, "offsets")
		offs, _ := srcOffsets.([]any)
		return a.status == http.StatusOK && len(offs) > 0
	}, 30*time.Second, 200*time.Millisecond, "src committed no offsets")
	require.Eventually(t, func() bool {
		a := send(t, w.URL, "GET", "/connectors/snk/offsets", nil)
		offs, _ := get(a.json, "offsets")
		list, _ := offs.([]any)
		return a.status == http.StatusOK && len(list) > 0
	}, 30*time.Second, 200*time.Millisecond, "snk committed no offsets")
	sw.run(t,
		routeCase{route: "GET /connectors/{name}/offsets", path: "/connectors/src/offsets", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "offsets:array", "offsets.0.partition:object", "offsets.0.offset:object")
		}},
		routeCase{route: "GET /connectors/{name}/offsets", path: "/connectors/snk/offsets", status: 200, check: func(t require.TestingT, a *answer) {
			fields(t, a.json, "offsets.0.partition.topic:string", "offsets.0.partition.broker:string",
				"offsets.0.partition.queue:integer", "offsets.0.offset.offset:integer")
			require.Equal(t, topic, str(t, a.json, "offsets.0.partition.topic"))
		}},
		routeCase{route: "GET /connectors/{name}/offsets", path: "/connectors/ghost/offsets", status: 404},
		routeCase{route: "PATCH /connectors/{name}/offsets", path: "/connectors/src/offsets", body: map[string]any{"offsets": srcOffsets},
			status: 400, check: message("stop it")},
		routeCase{route: "DELETE /connectors/{name}/offsets", path: "/connectors/src/offsets", status: 400, check: message("stop it")},
		routeCase{route: "PUT /connectors/{name}/stop", path: "/connectors/src/stop", status: 204},
		routeCase{route: "PUT /connectors/{name}/stop", path: "/connectors/ghost/stop", status: 404},
	)
	waitConnector(t, w, "src", "STOPPED", 0)
	sw.run(t,
		routeCase{route: "PATCH /connectors/{name}/offsets", path: "/connectors/src/offsets", body: map[string]any{"offsets": srcOffsets},
			status: 200, check: message("altered")},
		routeCase{route: "PATCH /connectors/{name}/offsets", path: "/connectors/src/offsets", body: map[string]any{"offset": []any{}}, status: 400},
		routeCase{route: "PATCH /connectors/{name}/offsets", path: "/connectors/src/offsets", body: map[string]any{"offsets": []any{}}, status: 400,
			check: message("Partitions / offsets need to be provided")},
		routeCase{route: "PATCH /connectors/{name}/offsets", path: "/connectors/ghost/offsets", body: map[string]any{"offsets": srcOffsets}, status: 404},
		routeCase{route: "DELETE /connectors/{name}/offsets", path: "/connectors/src/offsets", status: 200, check: message("reset")},
		routeCase{route: "DELETE /connectors/{name}/offsets", path: "/connectors/ghost/offsets", status: 404},
		routeCase{route: "GET /connectors/{name}/offsets", path: "/connectors/src/offsets", status: 200, check: jsonEq(`{"offsets":[]}`)},
	)

	t.Log("delete, one by one and all at once")
	sw.run(t,
		routeCase{route: "GET /connectors/{name}/stop", path: "/connectors/extra/stop", status: 200,
			check: envelope(`"Connector [extra] deleted successfully"`)},
		routeCase{route: "GET /connectors/{name}/stop", path: "/connectors/extra/stop", status: 404, check: message("extra")},
		routeCase{route: "DELETE /connectors/{name}", path: "/connectors/dlqsink", status: 204},
		routeCase{route: "DELETE /connectors/{name}", path: "/connectors/dlqsink", status: 404},
		routeCase{route: "GET /connectors", path: "/connectors", status: 200, check: jsonEq(`["snk","src"]`)},
		routeCase{route: "GET /connectors/pause/all", path: "/connectors/pause/all", status: 200, check: envelope(`"2 connectors are suspended"`)},
		routeCase{route: "GET /connectors/resume/all", path: "/connectors/resume/all", status: 200, check: envelope(`"2 connectors are resumed"`)},
		routeCase{route: "GET /connectors/stop/all", path: "/connectors/stop/all", status: 200, check: envelope(`"[snk, src] connectors are deleted"`)},
		routeCase{route: "GET /connectors", path: "/connectors", status: 200, check: jsonEq(`[]`)},
	)

	sw.requireCovered(t)
	w.Stop(t, 90*time.Second)
	logs, err := os.ReadFile(filepath.Join(dir, "worker.log"))
	require.NoError(t, err)
	require.NotContains(t, string(logs), "panicked", "no handler panicked")
}
