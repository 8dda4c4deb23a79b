package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ConnectorTask is the Task value of the Unit that stands for a connector itself rather than one of its tasks.
const ConnectorTask = -1

// Unit is one thing a worker runs: a connector (Task == ConnectorTask) or one task of it (Task >= 0).
type Unit struct {
	Connector string
	Task      int
}

// String returns "conn" for a connector and "conn-3" for its task 3.
func (u Unit) String() string {
	if u.Task == ConnectorTask {
		return u.Connector
	}
	return u.Connector + "-" + strconv.Itoa(u.Task)
}

// IsConnector reports whether u is a connector rather than a task.
func (u Unit) IsConnector() bool { return u.Task == ConnectorTask }

// Compare orders units by connector name, then task id; a connector sorts before its tasks.
func (u Unit) Compare(v Unit) int {
	if c := strings.Compare(u.Connector, v.Connector); c != 0 {
		return c
	}
	return cmp.Compare(u.Task, v.Task)
}

// Units returns the connector unit of name followed by its tasks 0..tasks-1.
func Units(name string, tasks int) []Unit {
	us := make([]Unit, 0, tasks+1)
	us = append(us, Unit{Connector: name, Task: ConnectorTask})
	for i := range tasks {
		us = append(us, Unit{Connector: name, Task: i})
	}
	return us
}

// Assignment maps a worker id to the units it runs, sorted with Unit.Compare. Every member given to
// Strategy.Assign is a key, with an empty slice when it runs nothing.
type Assignment map[string][]Unit

// Owners returns the inverse view: unit → worker id.
func (a Assignment) Owners() map[Unit]string {
	n := 0
	for _, us := range a {
		n += len(us)
	}
	owners := make(map[Unit]string, n)
	for w, us := range a {
		for _, u := range us {
			owners[u] = w
		}
	}
	return owners
}

// Len returns the number of units assigned.
func (a Assignment) Len() int {
	n := 0
	for _, us := range a {
		n += len(us)
	}
	return n
}

// Members returns the worker ids of a, sorted.
func (a Assignment) Members() []string {
	ms := make([]string, 0, len(a))
	for w := range a {
		ms = append(ms, w)
	}
	slices.Sort(ms)
	return ms
}

// String renders one line per worker, workers and units sorted: "w1: a a-0 b-2".
func (a Assignment) String() string {
	var b strings.Builder
	for i, w := range a.Members() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(w)
		b.WriteByte(':')
		for _, u := range a[w] {
			b.WriteByte(' ')
			b.WriteString(u.String())
		}
	}
	return b.String()
}

// prepare validates the input of Assign and returns sorted copies, so that every strategy sees the
// same input whatever order the caller used.
func prepare(members []string, units []Unit) ([]string, []Unit, error) {
	if len(members) == 0 {
		return nil, nil, ErrNoMembers
	}
	ms := slices.Clone(members)
	slices.Sort(ms)
	for i, m := range ms {
		if m == "" {
			return nil, nil, fmt.Errorf("member %q: %w", m, ErrInvalidMember)
		}
		if i > 0 && ms[i-1] == m {
			return nil, nil, fmt.Errorf("member %q: %w", m, ErrDuplicateMember)
		}
	}
	us := slices.Clone(units)
	slices.SortFunc(us, Unit.Compare)
	for i, u := range us {
		if u.Connector == "" || u.Task < ConnectorTask {
			return nil, nil, fmt.Errorf("unit %q (task %d): %w", u.Connector, u.Task, ErrInvalidUnit)
		}
		if i > 0 && us[i-1] == u {
			return nil, nil, fmt.Errorf("unit %s: %w", u, ErrDuplicateUnit)
		}
	}
	return ms, us, nil
}

// newAssignment returns an Assignment with an empty slice for every member.
func newAssignment(members []string) Assignment {
	a := make(Assignment, len(members))
	for _, m := range members {
		a[m] = []Unit{}
	}
	return a
}

func sortUnits(us []Unit) { slices.SortFunc(us, Unit.Compare) }
