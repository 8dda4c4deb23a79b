package faults

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// result is one scenario's figures, a row of RELIABILITY.md.
type result struct {
	Scenario string
	Trials   int
	tally
	Unavail     time.Duration // longest time a unit was not RUNNING on a serving worker
	UnavailUnit string
	Offered     int    // records/s the sources were set to send, in all
	Load        string // records/s offered and the host's load average at the end
	Took        time.Duration
	Notes       string
}

var (
	resultsMu sync.Mutex
	results   []result
	failovers []time.Duration // SIGKILL of a worker running sources and sinks → its units RUNNING elsewhere
)

// record checks the invariants every scenario keeps (nothing lost, reordered or corrupt) and
// keeps the row for the report.
func record(t *testing.T, r result) {
	t.Helper()
	r.Load = fmt.Sprintf("%d rec/s offered; load avg %s", r.Offered, loadAvg())
	t.Logf("RESULT %s: trials %d, sent %d, lost %d, duplicated %d, out of order %d, corrupt %d, longest unavailability %v (%s); %s; %s",
		r.Scenario, r.Trials, r.Sent, r.Lost, r.Dup, r.Reordered, r.Corrupt, r.Unavail.Round(10*time.Millisecond), r.UnavailUnit, r.Load, r.Notes)
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
	if *report != "" { // after every scenario, so that a run cut short still leaves its figures
		if err := writeReport(*report); err != nil {
			t.Errorf("report: %v", err)
		}
	}
	if r.Sent == 0 {
		t.Errorf("%s: no record was sent", r.Scenario)
	}
	if r.Lost != 0 || r.Reordered != 0 || r.Corrupt != 0 {
		t.Errorf("%s: %d lost, %d out of order per key, %d corrupt (must all be 0)", r.Scenario, r.Lost, r.Reordered, r.Corrupt)
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func writeReport(path string) error {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	took := time.Since(began)
	var b strings.Builder
	mode := "short subset (`go test ./tests/faults`)"
	if *full {
		mode = "full suite (`make faults`)"
	}
	fmt.Fprintf(&b, "# Reliability\n\nWritten by `make faults` (tests/faults) — do not edit by hand. Run: %s, %s, %d CPUs, %v in all.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), mode, runtime.NumCPU(), took.Round(time.Second))
	b.WriteString("Every scenario runs `rmqconnect distributed` workers, each in a network namespace of its own (its own " +
		"address, as on separate hosts), against a RocketMQ 5.3 name server and broker of the suite's own. The workload is " +
		fmt.Sprintf("pipelines of a generator-source (%d tasks, %d records/s, %d keys, %d-byte records) → a topic of 4 queues → a file-sink, ", srcTasks, rate, keys, recordSize) +
		"both with per-key ordering. At the end the sources are stopped (committing their positions) and each sink file is read: " +
		"*sent* counts every record up to the committed positions, *lost* those missing, *duplicated* the extra copies, " +
		"*out of order* the records of a (task, key) whose first appearance follows a later one's, *corrupt* lines the generator " +
		"did not make. *Longest unavailability* is the longest a unit (connector or task) was not RUNNING on a worker the test had " +
		"not impaired, polled every 200 ms through a serving worker; the status cannot show a broker outage itself, so those rows " +
		"also give the time until records flowed again.\n\n")
	b.WriteString("| scenario | trials | sent | lost | duplicated | out of order | corrupt | longest unavailability | load | notes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %s (%s) | %s | %s |\n", r.Scenario, r.Trials, r.Sent, r.Lost, r.Dup,
			r.Reordered, r.Corrupt, secs(r.Unavail), r.UnavailUnit, r.Load, strings.ReplaceAll(r.Notes, "|", "/"))
	}
	if len(failovers) > 0 {
		s := slices.Clone(failovers)
		slices.Sort(s)
		within := 0
		var list []string
		for _, d := range failovers {
			if d <= 2*time.Second {
				within++
			}
			list = append(list, secs(d))
		}
		fmt.Fprintf(&b, "\n## Failover\n\nSIGKILL of a worker running source and sink tasks → every unit it ran RUNNING on another "+
			"worker (status polled every 20 ms): %d trials, median %s, max %s; %d of %d within 2 s. Trials: %s.\n",
			len(s), secs(s[len(s)/2]), secs(s[len(s)-1]), within, len(s), strings.Join(list, ", "))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
