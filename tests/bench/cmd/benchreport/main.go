// Command benchreport turns the output of `go test -bench` (plain or -json) into
// BENCHMARKS.md: one table per figure of issue 8 (value, what it is compared with, the
// ratio, the target and whether it is met), the micro-benchmarks, the machine and the
// command that reproduces the run.
//
//	benchreport [-o BENCHMARKS.md] [-cmd "make bench"] [-previous old-output] [bench-output ...]
//
// With no file arguments it reads standard input. Several files are read as one run. With
// -previous (a missing file is ignored: a first run has none) the report ends with how the
// run's ratios compare with that run's.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "file to write")
	cmd := flag.String("cmd", defaultCmd, "command that reproduces the run, quoted in the report")
	rmq := flag.String("rocketmq", "5.3.3", "RocketMQ version of the broker the run used")
	prev := flag.String("previous", "", "output of the previous run to compare ratios with (ignored when missing)")
	prevDesc := flag.String("previous-desc", "", "which run -previous is, as the report names it (default: the previous make bench)")
	flag.Parse()
	if err := run(*out, *cmd, *rmq, *prev, *prevDesc, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

const defaultCmd = "make bench"

func run(out, cmd, rmq, previous, previousDesc string, inputs []string) error {
	var readers []io.Reader
	if len(inputs) == 0 {
		readers = append(readers, os.Stdin)
	}
	for _, p := range inputs {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	rs, err := parse(io.MultiReader(readers...))
	if err != nil {
		return err
	}
	if len(rs.List) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	if previous != "" {
		f, err := os.Open(previous)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			defer f.Close()
			if rs.Prev, err = parse(f); err != nil {
				return fmt.Errorf("previous run %s: %w", previous, err)
			}
			rs.PrevDesc = previousDesc
		}
	}
	var b bytes.Buffer
	render(&b, rs, facts(rs, rmq), cmd, time.Now().UTC())
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// fact is one line of the machine table.
type fact struct{ k, v string }

func facts(rs *results, rmq string) []fact {
	cpu := rs.Header["cpu"]
	if m := procField("/proc/cpuinfo", "model name"); m != "" {
		cpu = m
	}
	mem := procField("/proc/meminfo", "MemTotal")
	if f := strings.Fields(mem); len(f) == 2 && f[1] == "kB" {
		var kb float64
		if _, err := fmt.Sscan(f[0], &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	goVersion := runtime.Version()
	if v, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(v))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fs := []fact{
		{"CPUs (nproc)", fmt.Sprint(runtime.NumCPU())},
		{"CPU model", cpu},
		{"memory", mem},
		{"OS / arch", fmt.Sprintf("%s/%s, kernel %s", rs.Header["goos"], rs.Header["goarch"], strings.TrimSpace(string(kernel)))},
		{"Go", goVersion},
		{"RocketMQ", rmq + " (name server and broker on loopback, same machine)"},
	}
	for _, n := range rs.Notes {
		if strings.HasPrefix(n, sinkRoundNote) {
			continue // figure 9 lists them (pluginSinkRounds)
		}
		k, v, _ := strings.Cut(n, ": ")
		fs = append(fs, fact{k, v})
	}
	return fs
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
