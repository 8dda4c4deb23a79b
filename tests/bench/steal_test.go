package bench

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// startSteal starts measuring the host's CPU steal (the share of CPU time the hypervisor gave to others,
// from /proc/stat); the returned function gives the percentage since the start, or -1 when unknown.
func startSteal() func() float64 {
	steal0, total0, ok0 := readStealTotal()
	return func() float64 {
		steal1, total1, ok1 := readStealTotal()
		if !ok0 || !ok1 || total1 <= total0 {
			return -1
		}
		return 100 * float64(steal1-steal0) / float64(total1-total0)
	}
}

// readStealTotal returns the steal and total jiffies of the aggregate "cpu" line of /proc/stat.
func readStealTotal() (steal, total uint64, ok bool) {
	c, ok := cpuLine()
	for _, n := range c {
		total += n
	}
	return c[7], total, ok
}

// readBusyTotal returns the busy (user, nice, system, irq, softirq) and total jiffies of the aggregate
// "cpu" line of /proc/stat; steal and iowait count as not busy.
func readBusyTotal() (busy, total uint64, ok bool) {
	c, ok := cpuLine()
	for _, n := range c {
		total += n
	}
	return c[0] + c[1] + c[2] + c[5] + c[6], total, ok
}

// cpuLine returns the first eight counters of the aggregate "cpu" line of /proc/stat, in jiffies: user,
// nice, system, idle, iowait, irq, softirq and steal (guest time is already in user).
func cpuLine() (c [8]uint64, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c, false
	}
	for i := range c {
		if c[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return c, false
		}
	}
	return c, true
}

// Waiting for a quiet host: the bench broker and the database servers may still be busy with an
// earlier figure's work (a broker flushing and cleaning, a database purging or checkpointing) when a
// figure starts. That load takes from both sides, but more from a side that runs on both cores at once
// (a task reading ahead while it converts) than from a single-threaded one, so a figure waits for it
// to pass, up to quietWait, and reports what it found.
const (
	quietSample = 300 * time.Millisecond
	quietBusy   = 10.0 // % of the host's CPU, all cores; the idle bench broker uses ~1-2
	quietWait   = 15 * time.Second
)

// waitQuiet samples the host's busy share until one sample of quietSample is under quietBusy, or
// quietWait has passed, and returns the last sample's share (-1 when /proc/stat is unreadable).
func waitQuiet() float64 {
	deadline := time.Now().Add(quietWait)
	for {
		busy0, total0, ok0 := readBusyTotal()
		time.Sleep(quietSample)
		busy1, total1, ok1 := readBusyTotal()
		if !ok0 || !ok1 || total1 <= total0 {
			return -1
		}
		share := 100 * float64(busy1-busy0) / float64(total1-total0)
		if share < quietBusy || time.Now().After(deadline) {
			return share
		}
	}
}
