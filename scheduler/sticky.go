package scheduler

import (
	"cmp"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Sticky is a strategy that also takes the placement in force, so that a join or a leave moves little
// more than the units that must move.
//
// Rebalance is a function of (members, units, current): the same three in any order (members, units,
// and each worker's units in current) give the same Assignment. current may be nil or stale: it may
// name workers that are not members and units that no longer exist (both ignored), and list a unit under
// several members (the member of the highest rendezvous score keeps it). Its result meets every bound of
// the package's strategies (LoadBound, TargetFloor, StickySpreadBound where it can be met; see
// docs/distributed.md), and is a fixed point: Rebalance(m, u, Rebalance(m, u, p)) == Rebalance(m, u, p).
// Assign(members, units) is Rebalance(members, units, nil).
type Sticky interface {
	Strategy
	Rebalance(members []string, units []Unit, current Assignment) (Assignment, error)
}

// NewSticky returns the sticky strategy (New(StickyName), allocTaskStrategy=sticky). The distributed
// worker gives Rebalance the placement in force it reads from the status topic: the task claims and
// the connector records of live workers (docs/distributed.md, "The sticky strategy").
func NewSticky() Sticky { return stickyStrategy{} }

// TargetFloor is the fewest units the sticky strategy leaves on one of m members when it places n
// units: floor(n/m), which is at least FloorBound(n, m) and at least 1 when n >= m.
func TargetFloor(n, m int) int { return n / m }

// StickySpreadBound is the most of one connector's t tasks the sticky strategy puts on one of m
// members: 1 while t <= m (every task on a worker of its own where there are enough workers), beyond
// that ceil(1.25 × t/m).
func StickySpreadBound(t, m int) int {
	if t <= m {
		return 1
	}
	return ceilDiv(5*t, 4*m)
}

// stickyStrategy keeps every unit where current has it while the bounds allow, and moves only what
// must move:
//
//  1. Keep. Each member keeps the units current gives it, best rendezvous score first, while it holds
//     fewer than LoadBound(N, M) units and fewer than StickySpreadBound of the unit's connector. A unit
//     of a departed member, a new unit and a unit a member cannot keep is free.
//  2. Place. Free units, in an order fixed by their hashes, go one by one to the least-loaded member
//     that has room (below LoadBound) and holds fewer than StickySpreadBound of the unit's connector,
//     ties by rendezvous score. Where none with room can take a task within the spread bound, a full
//     member that may take it gives one of its units to a member with room that may take that one, and
//     takes the task in its place; only where that fails too the task goes to the member with room
//     holding the fewest of its connector.
//  3. Floor. While a member holds fewer than TargetFloor(N, M) = floor(N/M) units (a worker that has
//     just joined), it takes a unit from the most-loaded member above the floor, the one of highest
//     score for it; within the spread bound where any unit of any member above the floor is.
//
// A leave therefore moves the leaver's units and, where the caps shrink, what members can no longer
// keep; a join moves floor(N/M') units to the newcomer, plus what members above the new LoadBound shed.
// That is MinMoves in nearly every case (figure 5 of BENCHMARKS.md).
//
// The result meets every bound, so a second call with it as current keeps everything (step 1), has no
// free unit (step 2) and no member below the floor (step 3): it is a fixed point. With current nil
// every unit is free, and step 2 deals them out evenly: max - min <= 1 unless the spread bound forces
// otherwise.
type stickyStrategy struct{}

func (s stickyStrategy) Assign(members []string, units []Unit) (Assignment, error) {
	return s.Rebalance(members, units, nil)
}

func (stickyStrategy) Rebalance(members []string, units []Unit, current Assignment) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	if len(us) == 0 {
		return a, nil
	}
	p := newStickyPlacement(ms, us)
	p.keep(ms, current)
	p.placeFree()
	p.raise()
	for i, u := range us { // us is sorted, so each member's slice comes out sorted
		a[ms[p.owner[i]]] = append(a[ms[p.owner[i]]], u)
	}
	return a, nil
}

// stickyPlacement is the state of one Rebalance call; units and members are indexes into the sorted
// input.
type stickyPlacement struct {
	ledger
	capacity int     // LoadBound
	floor    int     // TargetFloor
	spread   []int32 // connector → StickySpreadBound of its task count
}

func newStickyPlacement(ms []string, us []Unit) *stickyPlacement {
	m, n := len(ms), len(us)
	p := &stickyPlacement{ledger: newLedger(ms, us), capacity: LoadBound(n, m), floor: TargetFloor(n, m)}
	p.spread = make([]int32, len(p.tasks))
	for c, t := range p.tasks {
		p.spread[c] = int32(StickySpreadBound(t, m))
	}
	return p
}

func (p *stickyPlacement) score(i, w int) uint64 { return mix(p.hash[i] ^ p.memberHash[w]) }

// spreadOK reports whether member w may take unit i within StickySpreadBound.
func (p *stickyPlacement) spreadOK(i, w int) bool {
	c := p.conn[i]
	return p.us[i].IsConnector() || p.perConn[c*p.m+w] < p.spread[c]
}

// keep is step 1.
func (p *stickyPlacement) keep(ms []string, current Assignment) {
	if len(current) == 0 {
		return
	}
	index := make(map[Unit]int, p.n)
	for i, u := range p.us {
		index[u] = i
	}
	// claim[i] is the member current gives unit i to; a unit listed under several members goes to the
	// one of highest score, so the order of current's map and slices does not matter.
	claim := make([]int, p.n)
	for i := range claim {
		claim[i] = -1
	}
	for w, name := range ms {
		for _, u := range current[name] {
			i, ok := index[u]
			if !ok {
				continue
			}
			if c := claim[i]; c < 0 || p.score(i, w) > p.score(i, c) || (p.score(i, w) == p.score(i, c) && w < c) {
				claim[i] = w
			}
		}
	}
	held := make([][]int, p.m)
	for i, w := range claim {
		if w >= 0 {
			held[w] = append(held[w], i)
		}
	}
	for w, is := range held {
		slices.SortFunc(is, func(x, y int) int { return cmp.Or(cmp.Compare(p.score(y, w), p.score(x, w)), cmp.Compare(x, y)) })
		for _, i := range is {
			if p.load[w] < p.capacity && p.spreadOK(i, w) {
				p.place(i, w)
			}
		}
	}
}

// placeFree is step 2.
func (p *stickyPlacement) placeFree() {
	for _, i := range hashOrder(p.us) {
		if p.owner[i] >= 0 {
			continue
		}
		if w := p.leastLoaded(i, true); w >= 0 {
			p.place(i, w)
			continue
		}
		if p.swapIn(i) {
			continue
		}
		p.place(i, p.fewestOfConnector(i))
	}
}

// leastLoaded returns the least-loaded member below LoadBound (within the spread bound if spread), ties
// by score; -1 if there is none.
func (p *stickyPlacement) leastLoaded(i int, spread bool) int {
	best := -1
	var bs uint64 // score of best, computed only where loads tie
	scored := false
	for w := range p.m {
		if l := p.load[w]; l >= p.capacity || (best >= 0 && l > p.load[best]) || (spread && !p.spreadOK(i, w)) {
			continue
		}
		switch {
		case best < 0 || p.load[w] < p.load[best]:
			best, scored = w, false
		case p.load[w] == p.load[best]:
			if !scored {
				bs, scored = p.score(i, best), true
			}
			if s := p.score(i, w); s > bs {
				best, bs = w, s
			}
		}
	}
	return best
}

// swapIn places task i, which no member with room may take within the spread bound, on a full member x
// that may, after moving one of x's units to a member with room that may take that one: the x of
// highest score for i, then the unit of highest score for its new member.
func (p *stickyPlacement) swapIn(i int) bool {
	xs := make([]int, 0, p.m)
	for x := range p.m {
		if p.spreadOK(i, x) {
			xs = append(xs, x)
		}
	}
	slices.SortFunc(xs, func(x, y int) int { return cmp.Or(cmp.Compare(p.score(i, y), p.score(i, x)), cmp.Compare(x, y)) })
	// Every x is full (leastLoaded found no member with room for i), so while j stays on x the search
	// for its new member cannot return x. With j unplaced, x would be back below LoadBound and could
	// win the tie of loads for its own unit, hiding a member that can take j.
	for _, x := range xs {
		for j := range p.n {
			if p.owner[j] != x {
				continue
			}
			if y := p.leastLoaded(j, true); y >= 0 {
				p.unplace(j)
				p.place(j, y)
				p.place(i, x)
				return true
			}
		}
	}
	return false
}

// fewestOfConnector is the last resort for a task no member can take within the spread bound: the
// member below LoadBound with the fewest tasks of its connector, then the least loaded, then by score.
// One exists because M × LoadBound >= 1.25 × N > N.
func (p *stickyPlacement) fewestOfConnector(i int) int {
	best := -1
	for w := range p.m {
		if p.load[w] >= p.capacity {
			continue
		}
		if best < 0 {
			best = w
			continue
		}
		cw, cb := p.perConn[p.conn[i]*p.m+w], p.perConn[p.conn[i]*p.m+best]
		if cw < cb || (cw == cb && (p.load[w] < p.load[best] || (p.load[w] == p.load[best] && p.score(i, w) > p.score(i, best)))) {
			best = w
		}
	}
	return best
}

// raise is step 3.
func (p *stickyPlacement) raise() {
	for {
		w := -1
		for x := range p.m {
			if p.load[x] < p.floor && (w < 0 || p.load[x] < p.load[w] || (p.load[x] == p.load[w] && p.memberHash[x] > p.memberHash[w])) {
				w = x
			}
		}
		if w < 0 {
			return
		}
		// A unit of a member above the floor (n >= m × floor, so while w is below it some member is
		// above it): the most-loaded member first, then the highest score for w; within the spread
		// bound if any such unit is.
		best := -1
		for _, spread := range []bool{true, false} {
			for i := range p.n {
				x := p.owner[i]
				if p.load[x] <= p.floor || (spread && !p.spreadOK(i, w)) {
					continue
				}
				if best < 0 || p.load[x] > p.load[p.owner[best]] || (p.load[x] == p.load[p.owner[best]] && p.score(i, w) > p.score(best, w)) {
					best = i
				}
			}
			if best >= 0 {
				break
			}
		}
		p.unplace(best)
		p.place(best, w)
	}
}

// hashOrder returns the indexes of us sorted by a hash of each unit's key: an order that does not
// depend on the membership or on the other units.
func hashOrder(us []Unit) []int {
	prio := make([]uint64, len(us))
	order := make([]int, len(us))
	for i, u := range us {
		prio[i] = mix(xxhash.Sum64(unitKey(u)) + 0x9e3779b97f4a7c15)
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Or(cmp.Compare(prio[x], prio[y]), cmp.Compare(x, y)) })
	return order
}
