package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// ratioUnit reports whether a metric is a ratio of two sides measured in the same run
// ("source/raw", "plugin/builtin", "eo/upsert"): the figures comparable across runs, as
// absolute rates move with the machine's load. Rates ("…/s", "…/op"), costs per a number
// of records ("cpu-s/100k") and the rounds' range ("…-min", "…-max") are not.
func ratioUnit(unit string) bool {
	i := strings.LastIndex(unit, "/")
	if i < 0 || strings.HasSuffix(unit, "/s") || strings.HasSuffix(unit, "/op") ||
		strings.HasSuffix(unit, "-min") || strings.HasSuffix(unit, "-max") {
		return false
	}
	d := unit[i+1:]
	return d != "" && (d[0] < '0' || d[0] > '9') // a per-count denominator is a cost, not a side
}

// memoryUnit reports whether a metric is a process's resident memory ("idle-RSS-MiB"):
// it does not follow the machine's load either, so runs compare it too (lower is better).
func memoryUnit(unit string) bool { return strings.HasSuffix(unit, "RSS-MiB") }

// noiseBand is the relative change of a ratio below which a run's comparison calls it
// unchanged: the per-round ranges of the figures above are wider than this on this machine.
const noiseBand = 0.10

// comparison is one ratio measured in both runs.
type comparison struct {
	bench, unit string
	prev, now   float64
}

func (c comparison) change() float64 { return c.now/c.prev - 1 }

// better reports whether the change is an improvement: a higher ratio, a lower memory figure.
func (c comparison) better() bool { return c.change() > 0 != memoryUnit(c.unit) }

// compareRatios lists the ratio and memory metrics both runs measured, in the current run's
// order.
func compareRatios(prev, now *results) []comparison {
	var out []comparison
	for _, r := range now.List {
		p := prev.Get(r.Pkg, r.Name)
		if p == nil {
			continue
		}
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			if ratioUnit(u) || memoryUnit(u) {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			pv, ok := p.Metrics[u]
			if !ok || pv == 0 || math.IsNaN(pv) || math.IsNaN(r.Metrics[u]) {
				continue
			}
			out = append(out, comparison{bench: r.Name, unit: u, prev: pv, now: r.Metrics[u]})
		}
	}
	return out
}

// defaultPrevious describes the run compared with when the caller names none.
const defaultPrevious = "the previous `make bench` on this machine (its output kept as runtime.prev.txt)"

// previousTable renders how the run's ratios and memory figures compare with those of the
// previous run (described by desc), and says how many moved by more than the noise band.
func previousTable(w io.Writer, cs []comparison, desc string) {
	if desc == "" {
		desc = defaultPrevious
	}
	fmt.Fprintf(w, "## Against the previous run\n\n")
	if len(cs) == 0 {
		fmt.Fprintf(w, "No ratio was measured in both runs.\n\n")
		return
	}
	var up, down int
	for _, c := range cs {
		switch {
		case math.Abs(c.change()) < noiseBand:
		case c.better():
			up++
		default:
			down++
		}
	}
	fmt.Fprintf(w, "The ratios and memory figures of this run against those of %s. Ratios compare sides measured in "+
		"the same run, so they are what can be compared across runs, as is resident memory; absolute rates follow the "+
		"machine's load. %d of %d within ±%.0f%% (noise on this machine); %d better, %d worse (a higher ratio, a lower "+
		"RSS is better).\n\n", desc, len(cs)-up-down, len(cs), noiseBand*100, up, down)
	fmt.Fprintf(w, "| benchmark | figure | previous | now | change |\n|---|---|---|---|---|\n")
	for _, c := range cs {
		bold := ""
		if math.Abs(c.change()) >= noiseBand {
			bold = "**"
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %s%+.0f%%%s |\n", c.bench, c.unit, c.prev, c.now, bold, c.change()*100, bold)
	}
	fmt.Fprintln(w)
}
