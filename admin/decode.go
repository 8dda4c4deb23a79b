package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// maxBodyBytes bounds a request body; connector configs are small.
const maxBodyBytes = 4 << 20

// jsonSpace is the whitespace JSON allows around a value.
const jsonSpace = " \t\r\n"

// maxNameLen is the longest connector name accepted, the limit RocketMQ and Kafka put on topic names.
const maxNameLen = 249

// readBody reads the whole body, at most maxBodyBytes: beyond that the error is an
// *http.MaxBytesError (413); another read failure is a bad request. No route reads a body
// another way, so none truncates one silently.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	if err != nil && !errors.As(err, &tooBig) {
		return nil, badRequestf("read body: %v", err)
	}
	return b, err
}

// validateName accepts 1 to 249 characters of [A-Za-z0-9._-], except "." and "..", which a
// URL path cannot carry as a segment.
func validateName(name string) error {
	switch {
	case name == "":
		return badRequestf("connector name must not be empty")
	case len(name) > maxNameLen:
		return badRequestf("connector name is %d characters long, more than %d", len(name), maxNameLen)
	case name == "." || name == "..":
		return badRequestf("connector name %q is not allowed", name)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return badRequestf("connector name %q has illegal character %q; allowed are A-Z a-z 0-9 . _ -", name, r)
		}
	}
	return nil
}

// decodeObject parses data as one JSON object whose members are raw values; what names the
// object in error messages ("request body", "config").
func decodeObject(data []byte, what string) (map[string]json.RawMessage, error) {
	data = bytes.Trim(data, jsonSpace)
	if len(data) == 0 {
		return nil, badRequestf("%s is empty; expected a JSON object", what)
	}
	if data[0] != '{' {
		return nil, badRequestf("%s must be a JSON object", what)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, badRequestf("%s is not valid JSON: %v", what, err)
	}
	return obj, nil
}

// decodeStrict decodes body, one JSON value, into v: a member v has no field for, or data
// after the value, is a bad request naming it, so a misspelt key is never taken for an
// absent one. shape is the expected body for the message; numbers in an interface value
// stay json.Number.
func decodeStrict(body []byte, v any, shape string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequestf("body must be %s: %s", shape, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequestf("body must be %s, with nothing after it", shape)
	}
	return nil
}

// decodeConfig turns a JSON object into a connector config. Strings are taken as they are;
// numbers and booleans become their JSON text (3 → "3", 1.50 → "1.50", true → "true"), since
// every config value is a string; null, objects and arrays are rejected naming the key.
func decodeConfig(raw json.RawMessage, what string) (map[string]string, error) {
	obj, err := decodeObject(raw, what)
	if err != nil {
		return nil, err
	}
	cfg := make(map[string]string, len(obj))
	var bad []string
	for _, k := range sortedKeys(obj) {
		v := bytes.Trim(obj[k], jsonSpace)
		switch {
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, badRequestf("%s.%s: %v", what, k, err)
			}
			cfg[k] = s
		case string(v) == "true" || string(v) == "false":
			cfg[k] = string(v)
		case len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
			cfg[k] = string(v) // json.Unmarshal already checked it is a valid number
		default:
			bad = append(bad, fmt.Sprintf("%s.%s: %s is not allowed, a config value must be a string, number or boolean", what, k, kindOf(v)))
		}
	}
	if len(bad) > 0 {
		return nil, badRequestf("%s", strings.Join(bad, "; "))
	}
	return cfg, nil
}

// kindOf names a rejected JSON value's kind without echoing a possibly large value.
func kindOf(v []byte) string {
	switch {
	case len(v) > 0 && v[0] == '{':
		return "an object"
	case len(v) > 0 && v[0] == '[':
		return "an array"
	case string(v) == "null":
		return "null"
	}
	return "this value"
}

// withName puts name into cfg under "name", as Kafka Connect does, or rejects a cfg whose
// "name" differs from the name in the URL or request.
func withName(cfg map[string]string, name string) error {
	if n, ok := cfg["name"]; ok && n != name {
		return badRequestf("config.name %q does not match connector name %q", n, name)
	}
	cfg["name"] = name
	return nil
}

// parseInitialState maps Kafka's initial_state (RUNNING, PAUSED, STOPPED; any case) to a target state.
func parseInitialState(s string) (restapi.TargetState, error) {
	switch strings.ToUpper(s) {
	case "":
		return "", nil
	case "RUNNING":
		return restapi.TargetStarted, nil
	case "PAUSED":
		return restapi.TargetPaused, nil
	case "STOPPED":
		return restapi.TargetStopped, nil
	}
	return "", badRequestf("initial_state %q is not one of RUNNING, PAUSED, STOPPED", s)
}

// boolQuery parses an optional boolean query parameter; absent is false.
func boolQuery(c *gin.Context, key string) (bool, error) {
	v, ok := c.GetQuery(key)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequestf("query parameter %s=%q is not a boolean", key, v)
	}
	return b, nil
}

// taskID reads the {name} and {id} path parameters.
func taskID(c *gin.Context) (restapi.TaskID, error) {
	raw := c.Param("task")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return restapi.TaskID{}, badRequestf("task id %q is not a non-negative integer", raw)
	}
	return restapi.TaskID{Connector: c.Param("name"), Task: n}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
