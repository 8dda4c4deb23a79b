package bench

import (
	"os"
	"strconv"
	"strings"
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
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i < 8 { // user nice system idle iowait irq softirq steal; guest time is already in user
			total += n
		}
		if i == 7 {
			steal = n
		}
	}
	return steal, total, true
}
