package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// Figure 6's cluster: failoverWorkers `rmqconnect distributed` processes running
// failoverConns generator-source connectors of failoverTasks tasks each, failoverRate
// records/s per connector, so that every worker runs some of the units.
const (
	failoverWorkers = 3
	failoverConns   = 6
	failoverTasks   = 2
	failoverRate    = "4"
	failoverTrials  = 5                     // per signal
	failoverPoll    = 10 * time.Millisecond // status polling step while a failover runs
	failoverLimit   = 2 * time.Minute       // a failover or settle that takes longer fails the benchmark
)

// BenchmarkFailover is figure 6: the time from a signal to one worker of 3 (SIGKILL, then
// SIGTERM for a clean leave) to every unit it ran — connector and tasks — reporting RUNNING
// on a surviving worker, as GET /connectors/{name}/status on a survivor shows it, polled every
// failoverPoll. After each trial the worker is started again and the cluster left to settle
// (every unit RUNNING where the consistent-hash scheduler puts it for 3 members, seen through
// every worker) before the next; the victim rotates over the workers that run tasks. Also
// reported: that restart's time from fork to settled ("rejoin").
func BenchmarkFailover(b *testing.B) {
	// The timer runs throughout, so that without -benchtime 1x the framework does not repeat it.
	times := map[syscall.Signal][]time.Duration{}
	var rejoins []time.Duration
	var moved []float64
	for range b.N {
		c := newBenchCluster(b, buildBinary(b, b.TempDir()))
		for i := range failoverWorkers {
			c.start(b, fmt.Sprintf("worker-%d", i+1))
		}
		topic := rmqtest.Topic(b, 4)
		first := c.procs["worker-1"]
		for i := range failoverConns {
			first.post(b, fmt.Sprintf("gen-%d", i), map[string]string{"connector.class": generator.SourceName,
				"connect.topicname": topic, "rate": failoverRate, "max.tasks": fmt.Sprint(failoverTasks)})
		}
		c.settle(b)
		trial := 0
		for range failoverTrials {
			for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
				victim, units, d := c.failover(b, sig, trial)
				trial++
				times[sig] = append(times[sig], d)
				moved = append(moved, float64(units))
				start := time.Now()
				c.start(b, victim)
				c.settle(b)
				rejoins = append(rejoins, time.Since(start))
			}
		}
	}
	for _, s := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGKILL, "sigkill"}, {syscall.SIGTERM, "sigterm"}} {
		ms := durationsMs(times[s.sig])
		b.ReportMetric(median(ms), s.name+"-ms")
		b.ReportMetric(slices.Min(ms), s.name+"-min-ms")
		b.ReportMetric(slices.Max(ms), s.name+"-max-ms")
		b.ReportMetric(float64(len(ms)), s.name+"-trials")
	}
	b.ReportMetric(median(moved), "victim-units")
	b.ReportMetric(median(durationsMs(rejoins)), "rejoin-ms")
	b.ReportMetric(slices.Max(durationsMs(rejoins)), "rejoin-max-ms")
	reportLoad(b)
}

func durationsMs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / 1e6
	}
	return out
}

// benchCluster is a set of `rmqconnect distributed` processes with store topics of their own
// (named after the cluster), on the bench broker. A worker keeps its port and store
// directory across restarts.
type benchCluster struct {
	bin, dir, id string
	procs        map[string]*proc // the latest process of each worker id
	down         map[string]bool  // the worker's latest process has exited
	ports        map[string]int
	http         *http.Client
}

func newBenchCluster(b *testing.B, bin string) *benchCluster {
	return &benchCluster{bin: bin, dir: b.TempDir(), id: rmqtest.Name(b, "c"), procs: map[string]*proc{},
		down: map[string]bool{}, ports: map[string]int{}, http: &http.Client{Timeout: 5 * time.Second}}
}

// start runs worker id (again) and waits until it answers /health 200, which in distributed
// mode means it has caught up with the store topics and joined the cluster.
func (c *benchCluster) start(b *testing.B, id string) {
	b.Helper()
	port, ok := c.ports[id]
	if !ok {
		port = freePort(b)
		c.ports[id] = port
	}
	dir := filepath.Join(c.dir, id)
	c.procs[id] = spawn(b, c.bin, "distributed", dir, port, fmt.Sprintf("workerId=%s\nconnectClusterId=%s\n"+
		"namesrvAddr=%s\nhttpPort=%d\nstorePathRootDir=%s\nlogLevel=info\nconfigStoreTopic=%s-config\n"+
		"positionStoreTopic=%s-position\nconnectStatusTopic=%s-status\nclusterStoreTopic=%s-cluster\n"+
		"gracefulShutdownTimeoutMillis=10000\nallocTaskStrategy=consistent-hash\n",
		id, c.id, rmqtest.NameServer(b), port, filepath.Join(dir, "store"), c.id, c.id, c.id, c.id))
	c.down[id] = false
}

// live returns the ids of the workers whose latest process runs, sorted.
func (c *benchCluster) live() []string {
	var out []string
	for id := range c.procs {
		if !c.down[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// placed is where a unit runs according to a worker's status route.
type placed struct {
	unit   scheduler.Unit
	state  string
	worker string
}

// states reads GET /connectors/{name}/status of every connector of the figure through p.
func (c *benchCluster) states(b *testing.B, p *proc) []placed {
	b.Helper()
	var out []placed
	for i := range failoverConns {
		name := fmt.Sprintf("gen-%d", i)
		resp, err := c.http.Get(p.url + "/connectors/" + name + "/status")
		if err != nil {
			b.Fatal(err)
		}
		var st struct {
			Connector struct {
				State    string `json:"state"`
				WorkerID string `json:"worker_id"`
			} `json:"connector"`
			Tasks []struct {
				ID       int    `json:"id"`
				State    string `json:"state"`
				WorkerID string `json:"worker_id"`
			} `json:"tasks"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			continue // not known to this worker yet
		}
		out = append(out, placed{scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask}, st.Connector.State, st.Connector.WorkerID})
		for _, t := range st.Tasks {
			out = append(out, placed{scheduler.Unit{Connector: name, Task: t.ID}, t.State, t.WorkerID})
		}
	}
	return out
}

// allRunningOn reports whether every unit of the figure is listed and RUNNING on one of workers.
func allRunningOn(ps []placed, workers []string) bool {
	if len(ps) != failoverConns*(1+failoverTasks) {
		return false
	}
	for _, p := range ps {
		if p.state != "RUNNING" || !slices.Contains(workers, p.worker) {
			return false
		}
	}
	return true
}

// settle waits until every live worker shows every unit RUNNING where the consistent-hash
// scheduler (the strategy the workers are configured with) puts it for the live members.
func (c *benchCluster) settle(b *testing.B) {
	b.Helper()
	live := c.live()
	units := make([]scheduler.Unit, 0, failoverConns*(1+failoverTasks))
	for i := range failoverConns {
		for t := scheduler.ConnectorTask; t < failoverTasks; t++ {
			units = append(units, scheduler.Unit{Connector: fmt.Sprintf("gen-%d", i), Task: t})
		}
	}
	a, err := scheduler.NewConsistentHash().Assign(live, units)
	if err != nil {
		b.Fatal(err)
	}
	owners := a.Owners()
	var last []placed
	waitFor(b, failoverLimit, 50*time.Millisecond, "cluster settled", func() bool {
		for _, id := range live {
			last = c.states(b, c.procs[id])
			if !allRunningOn(last, live) {
				return false
			}
			for _, p := range last {
				if owners[p.unit] != p.worker {
					return false
				}
			}
		}
		return true
	})
}

// failover sends sig to a worker that runs tasks — the first such in worker order starting at
// trial — and returns it, how many units it ran, and the time from the signal to every unit
// RUNNING on the survivors as the next survivor's status route shows it. It waits for the
// process to exit before returning.
func (c *benchCluster) failover(b *testing.B, sig syscall.Signal, trial int) (string, int, time.Duration) {
	b.Helper()
	ids := c.live()
	before := c.states(b, c.procs[ids[0]])
	victim, units := "", 0
	for k := range ids {
		id := ids[(trial+k)%len(ids)]
		tasks, n := 0, 0
		for _, p := range before {
			if p.worker == id {
				n++
				if p.unit.Task != scheduler.ConnectorTask {
					tasks++
				}
			}
		}
		if tasks > 0 {
			victim, units = id, n
			break
		}
	}
	if victim == "" {
		b.Fatalf("no worker runs a task: %v", before)
	}
	var survivors []string
	for _, id := range ids {
		if id != victim {
			survivors = append(survivors, id)
		}
	}
	observer := c.procs[survivors[0]]
	vp := c.procs[victim]
	start := time.Now()
	if err := vp.cmd.Process.Signal(sig); err != nil {
		b.Fatal(err)
	}
	var last []placed
	for {
		last = c.states(b, observer)
		if allRunningOn(last, survivors) {
			break
		}
		if time.Since(start) > failoverLimit {
			b.Fatalf("%s of %s: units not RUNNING on %v after %s: %v; log:\n%s", sig, victim, survivors, failoverLimit,
				last, tail(filepath.Join(vp.dir, "worker.log")))
		}
		time.Sleep(failoverPoll)
	}
	d := time.Since(start)
	select {
	case <-vp.done:
		c.down[victim] = true
	case <-time.After(failoverLimit):
		b.Fatalf("%s did not exit within %s of %s", victim, failoverLimit, sig)
	}
	if sig == syscall.SIGTERM && !vp.cmd.ProcessState.Success() {
		b.Fatalf("%s exited %v after SIGTERM; log:\n%s", victim, vp.cmd.ProcessState, tail(filepath.Join(vp.dir, "worker.log")))
	}
	return victim, units, d
}

func (p placed) String() string {
	return fmt.Sprintf("%s %s@%s", p.unit, strings.ToLower(p.state), p.worker)
}
