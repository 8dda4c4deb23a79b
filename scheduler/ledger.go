package scheduler

import "github.com/cespare/xxhash/v2"

// ledger is the bookkeeping both the consistent-hash and the sticky strategy place units
// with: which member holds each unit, each member's load and each connector's tasks per
// member, over units sorted by connector (a connector's units are contiguous).
type ledger struct {
	m, n       int
	us         []Unit
	conn       []int    // unit → connector index
	tasks      []int    // connector → task count
	hash       []uint64 // unit → hash of its key
	memberHash []uint64
	load       []int   // member → units held
	perConn    []int32 // perConn[c*m+w]: tasks of connector c on member w
	owner      []int   // unit → member, -1 while free
}

func newLedger(ms []string, us []Unit) ledger {
	m, n := len(ms), len(us)
	l := ledger{m: m, n: n, us: us, conn: make([]int, n), hash: make([]uint64, n),
		memberHash: make([]uint64, m), load: make([]int, m), owner: make([]int, n)}
	for i, u := range us {
		if i == 0 || u.Connector != us[i-1].Connector {
			l.tasks = append(l.tasks, 0)
		}
		l.conn[i] = len(l.tasks) - 1
		if !u.IsConnector() {
			l.tasks[l.conn[i]]++
		}
		l.hash[i] = xxhash.Sum64(unitKey(u))
		l.owner[i] = -1
	}
	for w, name := range ms {
		l.memberHash[w] = xxhash.Sum64String(name)
	}
	l.perConn = make([]int32, len(l.tasks)*m)
	return l
}

func (l *ledger) place(i, w int) {
	l.owner[i] = w
	l.load[w]++
	if !l.us[i].IsConnector() {
		l.perConn[l.conn[i]*l.m+w]++
	}
}

func (l *ledger) unplace(i int) {
	w := l.owner[i]
	l.owner[i] = -1
	l.load[w]--
	if !l.us[i].IsConnector() {
		l.perConn[l.conn[i]*l.m+w]--
	}
}
