package main

import (
	"bufio"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is one benchmark's metrics (unit → value), averaged over its repeats (-count).
type result struct {
	Pkg     string
	Name    string // without the -GOMAXPROCS suffix
	Metrics map[string]float64
	runs    map[string]int
}

// results holds every benchmark of a run, in the order first seen, plus the header facts
// go test prints (goos, goarch, cpu) and the machine notes the bench package prints.
type results struct {
	List   []*result
	byKey  map[string]*result
	Header map[string]string
	Notes  []string
	// Prev is the previous run's results, when the report compares with it; nil otherwise.
	// PrevDesc says which run that is (empty: the previous make bench).
	Prev     *results
	PrevDesc string
}

// Get returns the result of benchmark name in the package whose path ends with pkg, or nil.
func (rs *results) Get(pkg, name string) *result {
	for _, r := range rs.List {
		if r.Name == name && (r.Pkg == pkg || strings.HasSuffix(r.Pkg, "/"+pkg)) {
			return r
		}
	}
	return nil
}

// Metric returns a metric of benchmark name in pkg and whether it was measured.
func (rs *results) Metric(pkg, name, unit string) (float64, bool) {
	r := rs.Get(pkg, name)
	if r == nil {
		return 0, false
	}
	v, ok := r.Metrics[unit]
	return v, ok
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.+)$`)

// notePrefix marks the lines the bench package prints about the machine during the run.
const notePrefix = "rmqconnect-bench: "

// parse reads `go test -bench` output, plain or -json (test2json events, whose Output
// fields are joined back into the plain text first).
func parse(r io.Reader) (*results, error) {
	rs := &results{byKey: map[string]*result{}, Header: map[string]string{}}
	var text strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "{") {
			var ev struct {
				Action  string
				Package string
				Output  string
			}
			if json.Unmarshal([]byte(line), &ev) == nil {
				if ev.Action == "output" {
					text.WriteString(ev.Output)
				}
				continue
			}
		}
		text.WriteString(line)
		text.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	pkg := ""
	for line := range strings.SplitSeq(text.String(), "\n") {
		line = strings.TrimRight(line, "\r")
		if k, v, ok := strings.Cut(line, ": "); ok && (k == "goos" || k == "goarch" || k == "cpu" || k == "pkg") {
			if k == "pkg" {
				pkg = v
			} else {
				rs.Header[k] = v
			}
			continue
		}
		if note, ok := strings.CutPrefix(line, notePrefix); ok {
			rs.Notes = append(rs.Notes, note)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[4])
		if len(fields)%2 != 0 {
			continue
		}
		key := pkg + " " + m[1]
		res := rs.byKey[key]
		if res == nil {
			res = &result{Pkg: pkg, Name: m[1], Metrics: map[string]float64{}, runs: map[string]int{}}
			rs.byKey[key] = res
			rs.List = append(rs.List, res)
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			unit := fields[i+1]
			n := res.runs[unit]
			res.Metrics[unit] = (res.Metrics[unit]*float64(n) + v) / float64(n+1)
			res.runs[unit] = n + 1
		}
	}
	return rs, nil
}
