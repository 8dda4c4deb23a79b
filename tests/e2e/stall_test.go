package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// A pipeline test that waits for its output to grow calls awaitProgress; when the output
// stops short, stallReport logs what explains where it stopped: the broker's view of the
// topic against the sink group's offsets, the connectors' states, the worker's metrics and
// source positions, and the worker's goroutines. Each part is best effort: a part that
// cannot be had says why and the rest follows.

// awaitProgress polls count every interval until it returns at least want. It gives up
// when count has not grown for idle, or after total, and returns the last count and
// whether want was reached.
func awaitProgress(count func() int, want int, idle, total, interval time.Duration) (int, bool) {
	start := time.Now()
	last, lastGrew := -1, start
	for {
		n := count()
		if n >= want {
			return n, true
		}
		now := time.Now()
		if n > last {
			last, lastGrew = n, now
		}
		if now.Sub(lastGrew) >= idle || now.Sub(start) >= total {
			return n, false
		}
		time.Sleep(interval)
	}
}

// stallReport names what a pipeline test looks at when it stalls.
type stallReport struct {
	w       *workerProc
	logPath string // the worker's log: its stderr, where a SIGQUIT writes the goroutine dump
	// topic is read by the sink connector's group; either may be empty.
	topic, group string
	// connectors are the names whose status and offsets are shown.
	connectors []string
	// files are the pipeline's files (input, output) whose size is shown.
	files []string
}

// log writes the report to t's log and ends the worker with SIGQUIT, so the test fails
// with the goroutines of the moment the stall was seen. The worker's whole log, dump
// included, is copied next to the test binary's temporary files (its path is logged),
// since t.TempDir is removed when the test ends.
func (r stallReport) log(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "stall report (%s)\n", time.Now().UTC().Format(time.RFC3339))
	r.fileSizes(&b)
	diskUsage(&b)
	r.broker(t, &b)
	r.rest(&b)
	r.metrics(&b)
	r.goroutines(t, &b)
	t.Log(b.String())
}

func (r stallReport) fileSizes(b *strings.Builder) {
	for _, p := range r.files {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(b, "file %s: %v\n", p, err)
			continue
		}
		fmt.Fprintf(b, "file %s: %d bytes, %d lines, modified %s ago\n", p, st.Size(), countLines(p),
			time.Since(st.ModTime()).Round(time.Millisecond))
	}
}

// broker shows every queue of the topic: its stored range, the group's committed offset,
// and what the broker answers a pull at that offset now (without waiting).
func (r stallReport) broker(t *testing.T, b *strings.Builder) {
	if r.topic == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := rmqtest.Client(t)
	qs, err := cl.TopicQueues(ctx, r.topic)
	if err != nil {
		fmt.Fprintf(b, "queues of %s: %v\n", r.topic, err)
		return
	}
	group := r.group
	if group == "" {
		group = "rmqconnect-stall-report"
	}
	pl, err := cl.NewPuller(group)
	if err != nil {
		fmt.Fprintf(b, "puller for %s: %v\n", group, err)
		return
	}
	fmt.Fprintf(b, "broker: topic %s, group %s\n", r.topic, r.group)
	for _, q := range qs {
		minOff, maxOff, err := pl.QueueRange(ctx, q)
		if err != nil {
			fmt.Fprintf(b, "  %s: range: %v\n", q, err)
			continue
		}
		line := fmt.Sprintf("  %s: stored [%d, %d)", q, minOff, maxOff)
		if minOff > 0 {
			line += " (the broker deleted the records below)"
		}
		if r.group != "" {
			off, found, err := pl.CommittedOffset(ctx, q)
			switch {
			case err != nil:
				line += fmt.Sprintf(", committed: %v", err)
			case !found:
				line += ", committed: none"
			default:
				line += fmt.Sprintf(", committed %d (lag %d)", off, maxOff-off)
				if off < maxOff {
					res, err := pl.Pull(ctx, q, off, 32, 0)
					if err != nil {
						line += fmt.Sprintf(", pull at %d: %v", off, err)
					} else {
						line += fmt.Sprintf(", pull at %d: %s, %d messages, next %d", off, res.Status, len(res.Messages), res.Next)
						res.Release()
					}
				}
			}
		}
		b.WriteString(line + "\n")
	}
}

// diskUsage shows how full the disk of the temporary directory is, as a broker on it
// measures (used / (used + available to unprivileged users)): RocketMQ 5 deletes commit log
// files early, read or not, above 85 % (diskSpaceCleanForciblyRatio, capped there) and
// refuses writes above 90 % (diskSpaceWarningLevelRatio), whatever its config says higher.
func diskUsage(b *strings.Builder) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(os.TempDir(), &st); err != nil {
		fmt.Fprintf(b, "disk of %s: %v\n", os.TempDir(), err)
		return
	}
	used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
	avail := st.Bavail * uint64(st.Bsize)
	fmt.Fprintf(b, "disk of %s: %.1f %% used as a broker counts (%d MiB available; brokers delete unread "+
		"commit log files above 85 %% and refuse writes above 90 %%)\n", os.TempDir(),
		100*float64(used)/float64(used+avail), avail>>20)
}

// rest shows the connectors' status and offsets as the worker's REST API answers.
func (r stallReport) rest(b *strings.Builder) {
	for _, c := range r.connectors {
		for _, path := range []string{"/connectors/" + c + "/status", "/connectors/" + c + "/offsets"} {
			var v any
			code, err := r.w.Do(http.MethodGet, path, nil, &v)
			if err != nil {
				fmt.Fprintf(b, "GET %s: %v\n", path, err)
				continue
			}
			js, _ := json.Marshal(v)
			fmt.Fprintf(b, "GET %s: %d %s\n", path, code, js)
		}
	}
}

// metricLine is a sample of the worker's own metrics, histogram buckets aside.
var metricLine = regexp.MustCompile(`^rmqconnect_\S+(\{[^}]*\})? `)

// metrics shows the worker's rmqconnect_ samples (counters, gauges, histogram sums and
// counts) of the connectors reported on.
func (r stallReport) metrics(b *strings.Builder) {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(r.w.URL + "/metrics")
	if err != nil {
		fmt.Fprintf(b, "GET /metrics: %v\n", err)
		return
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !metricLine.MatchString(l) || strings.Contains(l, "_bucket{") || !r.mentionsConnector(l) {
			continue
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	fmt.Fprintf(b, "metrics (%d samples):\n  %s\n", len(lines), strings.Join(lines, "\n  "))
}

func (r stallReport) mentionsConnector(l string) bool {
	if !strings.Contains(l, "connector=") {
		return true // worker-wide
	}
	for _, c := range r.connectors {
		if strings.Contains(l, `connector="`+c+`"`) {
			return true
		}
	}
	return false
}

// goroutines makes the worker dump its goroutines (SIGQUIT: the Go runtime writes every
// goroutine's stack to stderr, the worker's log, and exits), then shows the log's warnings
// and the goroutines that run the project's code in full, the others counted by their top
// function.
func (r stallReport) goroutines(t *testing.T, b *strings.Builder) {
	if !r.w.Alive() {
		fmt.Fprintf(b, "worker already exited (%v); log tail:\n%s\n", r.w.Err(), readFile(r.logPath))
		return
	}
	if err := r.w.Signal(syscall.SIGQUIT); err != nil {
		fmt.Fprintf(b, "SIGQUIT: %v\n", err)
		return
	}
	select {
	case <-r.w.Exited():
	case <-time.After(15 * time.Second):
		fmt.Fprintf(b, "worker did not exit within 15 s of SIGQUIT\n")
	}
	raw, err := os.ReadFile(r.logPath)
	if err != nil {
		fmt.Fprintf(b, "worker log: %v\n", err)
		return
	}
	kept := filepath.Join(os.TempDir(), fmt.Sprintf("rmqconnect-stall-%s-%d.log",
		nonPathChars.ReplaceAllString(t.Name(), "_"), time.Now().Unix()))
	if err := os.WriteFile(kept, raw, 0o644); err == nil {
		fmt.Fprintf(b, "worker log with the goroutine dump kept at %s\n", kept)
	}
	log, dump, _ := bytes.Cut(raw, []byte("SIGQUIT: quit"))
	fmt.Fprintf(b, "worker log before the dump (last 40 lines):\n%s\n", lastLines(log, 40))
	ours, others := splitGoroutines(dump)
	for i, g := range ours {
		ours[i] = compactStack(g)
	}
	fmt.Fprintf(b, "goroutines running rmqconnect code (%d):\n%s\n", len(ours), strings.Join(ours, "\n\n"))
	fmt.Fprintf(b, "other goroutines by top function:\n%s", others)
}

var nonPathChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// frameAddrs are the frame and program addresses a crash-level traceback adds to each line.
var frameAddrs = regexp.MustCompile(` fp=0x[0-9a-f]+ sp=0x[0-9a-f]+ pc=0x[0-9a-f]+$`)

// compactStack drops a goroutine's runtime frames and frame addresses: what is left names
// where its own code waits.
func compactStack(g string) string {
	lines := strings.Split(g, "\n")
	out := lines[:1]
	for i := 1; i < len(lines); i++ {
		l := frameAddrs.ReplaceAllString(lines[i], "")
		if strings.HasPrefix(l, "runtime.") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			i++ // the frame and its file line
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// topFunction names the first frame of a goroutine's stack outside the runtime: where it
// waits.
func topFunction(g string) string {
	lines := strings.Split(strings.TrimSpace(g), "\n")
	top := "?"
	for i := 1; i < len(lines); i += 2 {
		f := strings.TrimSpace(lines[i])
		if i := strings.LastIndexByte(f, '('); i > 0 {
			f = f[:i]
		}
		if top == "?" {
			top = f
		}
		if !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "internal/") {
			return f
		}
	}
	return top
}

// splitGoroutines parses a Go goroutine dump: the stacks with a frame of the project's
// packages, in full, and a count of the others by their first frame.
func splitGoroutines(dump []byte) (ours []string, others string) {
	counts := map[string]int{}
	for _, g := range strings.Split(string(dump), "\n\n") {
		if !strings.HasPrefix(strings.TrimSpace(g), "goroutine ") {
			continue
		}
		if strings.Contains(g, "github.com/rmqconnect/rmqconnect/") {
			ours = append(ours, strings.TrimSpace(g))
			continue
		}
		counts[topFunction(g)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "  %4d %s\n", counts[k], k)
	}
	return ours, sb.String()
}

// TestStallReportReadsAGoroutineDump: the dump's goroutines that run the project's code are
// kept, without runtime frames or frame addresses; the others are counted by where they wait.
func TestStallReportReadsAGoroutineDump(t *testing.T) {
	dump := "SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\n" +
		"goroutine 7 gp=0x1 m=nil [select]:\n" +
		"runtime.gopark(0x1?)\n\t/go/src/runtime/proc.go:462 +0xce fp=0x1 sp=0x2 pc=0x3\n" +
		"github.com/rmqconnect/rmqconnect/worker.(*sinkRunner).pullQueue(0x1)\n\t/src/worker/sink_pull.go:330 +0x1 fp=0x4 sp=0x5 pc=0x6\n" +
		"created by golang.org/x/sync/errgroup.(*Group).Go in goroutine 5\n\t/x/errgroup.go:78 +0x95\n\n" +
		"goroutine 8 gp=0x2 m=nil [IO wait]:\n" +
		"runtime.gopark(0x1?)\n\t/go/src/runtime/proc.go:462 +0xce\n" +
		"internal/poll.runtime_pollWait(0x1)\n\t/go/src/runtime/netpoll.go:351 +0x85\n" +
		"net.(*conn).Read(0x1)\n\t/go/src/net/net.go:196 +0x45\n\n" +
		"goroutine 9 gp=0x3 m=nil [IO wait]:\n" +
		"runtime.gopark(0x1?)\n\t/go/src/runtime/proc.go:462 +0xce\n" +
		"net.(*conn).Read(0x1)\n\t/go/src/net/net.go:196 +0x45\n"
	ours, others := splitGoroutines([]byte(dump))
	require.Len(t, ours, 1)
	want := "goroutine 7 gp=0x1 m=nil [select]:\n" +
		"github.com/rmqconnect/rmqconnect/worker.(*sinkRunner).pullQueue(0x1)\n\t/src/worker/sink_pull.go:330 +0x1\n" +
		"created by golang.org/x/sync/errgroup.(*Group).Go in goroutine 5\n\t/x/errgroup.go:78 +0x95"
	require.Equal(t, want, compactStack(ours[0]))
	require.Equal(t, "     2 net.(*conn).Read\n", others)
}
