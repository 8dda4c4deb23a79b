package scheduler

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// A data file is a sequence of cases, in the style of etcd/raft's datadriven tests:
//
//	# comment
//	join w4
//	----
//	expected output, up to the next blank line
//
// Commands (each prints what it changed; every placement is checked and "check: ok" printed):
//
//	strategy <name>                 start over with this strategy, no members, no units ("sticky":
//	                                NewSticky, each step a Rebalance of the placement before it)
//	members <w>...                  set the membership
//	join <w> / leave <w>            one worker joins or leaves: also prints moves against MinMoves
//	add-connector <name> tasks=<n>  add a connector with tasks 0..n-1 (or change its task count)
//	remove-connector <name>         remove a connector and its tasks
//	assign                          print the current assignment
//	shape workers=<w> connectors=<c> tasks=<t>
//	                                members worker-1..worker-<w> and connectors conn-1..conn-<c> of <t>
//	                                tasks each; from here on, print load statistics instead of the
//	                                assignment and the per-worker moves (for shapes of thousands of units)
//
// Run `go test ./scheduler -run TestDataDriven -rewrite` to regenerate the expectations after an
// intended change, and review the diff.
type ddCase struct {
	preamble  []string // comment and blank lines before the command, kept by -rewrite
	cmd, want string
	line      int
}

func parseDataFile(t *testing.T, path string) []ddCase {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	var cases []ddCase
	var preamble []string
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			preamble = append(preamble, lines[i])
			continue
		}
		c := ddCase{preamble: preamble, cmd: l, line: i + 1}
		preamble = nil
		require.Less(t, i+1, len(lines), "%s:%d: missing ----", path, i+1)
		require.Equal(t, "----", strings.TrimSpace(lines[i+1]), "%s:%d: want ---- after the command", path, i+2)
		i += 2
		var out []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			out = append(out, lines[i])
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases
}

type ddState struct {
	strategy Strategy
	name     string
	members  []string
	tasks    map[string]int
	current  Assignment
	summary  bool
}

func (s *ddState) units() []Unit {
	var us []Unit
	for c, n := range s.tasks {
		us = append(us, Units(c, n)...)
	}
	return us
}

// run executes one command and returns its output.
func (s *ddState) run(cmd string) (string, error) {
	fields := strings.Fields(cmd)
	verb, args := fields[0], fields[1:]
	kv := map[string]string{}
	var pos []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	needOne := func() error {
		if len(pos) != 1 {
			return fmt.Errorf("%s: want one argument, got %q", verb, pos)
		}
		return nil
	}
	var joined, left string
	switch verb {
	case "strategy":
		if err := needOne(); err != nil {
			return "", err
		}
		st, err := New(pos[0])
		if err != nil {
			return "", err
		}
		*s = ddState{strategy: st, name: pos[0], tasks: map[string]int{}}
		return "ok", nil
	case "assign":
		return s.current.String(), nil
	case "members":
		s.members = slices.Clone(pos)
	case "join":
		if err := needOne(); err != nil {
			return "", err
		}
		joined = pos[0]
		s.members = append(s.members, joined)
	case "leave":
		if err := needOne(); err != nil {
			return "", err
		}
		left = pos[0]
		i := slices.Index(s.members, left)
		if i < 0 {
			return "", fmt.Errorf("leave %s: not a member", left)
		}
		s.members = slices.Delete(s.members, i, i+1)
	case "shape":
		var w, c, n int
		for k, p := range map[string]*int{"workers": &w, "connectors": &c, "tasks": &n} {
			v, err := strconv.Atoi(kv[k])
			if err != nil {
				return "", fmt.Errorf("shape: %s: %w", k, err)
			}
			*p = v
		}
		s.members, s.tasks, s.summary, s.current = nil, map[string]int{}, true, nil
		for i := range w {
			s.members = append(s.members, fmt.Sprintf("worker-%d", i+1))
		}
		for i := range c {
			s.tasks[fmt.Sprintf("conn-%d", i+1)] = n
		}
	case "add-connector":
		if err := needOne(); err != nil {
			return "", err
		}
		n, err := strconv.Atoi(kv["tasks"])
		if err != nil {
			return "", fmt.Errorf("add-connector: tasks: %w", err)
		}
		s.tasks[pos[0]] = n
	case "remove-connector":
		if err := needOne(); err != nil {
			return "", err
		}
		delete(s.tasks, pos[0])
	default:
		return "", fmt.Errorf("unknown command %q", verb)
	}

	units := s.units()
	a, err := reassign(s.strategy, s.members, units, s.current)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	var b strings.Builder
	old := s.current
	if old != nil {
		moved, per := movement(old, a)
		fmt.Fprintf(&b, "moved %d", moved)
		if joined != "" || left != "" {
			min := MinMoves(old, s.members, len(units))
			fmt.Fprintf(&b, ", minimum %d", min)
			if (s.name == ConsistentHash || s.name == "sticky") && min >= 4 && 2*moved > 5*min {
				b.WriteString(" OVER 2.5 × MINIMUM")
			}
		}
		b.WriteByte('\n')
		for _, w := range slices.Sorted(maps.Keys(per)) {
			if s.summary {
				break
			}
			fmt.Fprintf(&b, "  %s: stop %s; start %s\n", w, unitList(per[w].Stop), unitList(per[w].Start))
		}
	}
	maxLoad, minLoad, idle := 0, len(units), 0
	for _, us := range a {
		maxLoad, minLoad = max(maxLoad, len(us)), min(minLoad, len(us))
		if len(us) == 0 {
			idle++
		}
	}
	fmt.Fprintf(&b, "units %d, workers %d, max load %d (bound %d)", len(units), len(s.members), maxLoad, LoadBound(len(units), len(s.members)))
	if s.summary {
		fmt.Fprintf(&b, ", min load %d (floor %d), idle %d", minLoad, FloorBound(len(units), len(s.members)), idle)
	}
	b.WriteByte('\n')
	check := checkAssignment
	if s.name == "sticky" {
		check = checkSticky
	}
	if err := check(a, s.members, units); err != nil {
		fmt.Fprintf(&b, "check: %v\n", err)
	} else {
		b.WriteString("check: ok\n")
	}
	if !s.summary {
		b.WriteString(a.String())
	}
	s.current = a
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func unitList(us []Unit) string {
	if len(us) == 0 {
		return "-"
	}
	ss := make([]string, len(us))
	for i, u := range us {
		ss[i] = u.String()
	}
	return strings.Join(ss, " ")
}

func TestDataDriven(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cases := parseDataFile(t, path)
			var st ddState
			var out strings.Builder
			for _, c := range cases {
				if st.strategy == nil && !strings.HasPrefix(c.cmd, "strategy ") {
					t.Fatalf("%s:%d: the first command must be strategy", path, c.line)
				}
				got, err := st.run(c.cmd)
				require.NoError(t, err, "%s:%d: %s", path, c.line, c.cmd)
				if *rewrite {
					for _, p := range c.preamble {
						out.WriteString(p + "\n")
					}
					fmt.Fprintf(&out, "%s\n----\n%s\n\n", c.cmd, got)
					continue
				}
				require.Equal(t, c.want, got, "%s:%d: %s", path, c.line, c.cmd)
			}
			if *rewrite {
				require.NoError(t, os.WriteFile(path, []byte(strings.TrimSuffix(out.String(), "\n")), 0o644))
			}
		})
	}
}
