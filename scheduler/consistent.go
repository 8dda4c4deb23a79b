package scheduler

import (
	"slices"
	"strconv"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// Parameters of the consistent-hash strategy. Changing any of them changes assignments, so every worker
// of a cluster must run the same values; they are constants for that reason.
const (
	// chPartitions is the number of ring partitions keys are hashed into (xxhash mod P). It is far above
	// any realistic member count; a larger cluster gets one partition per member (ringPartitions), since
	// the library panics when members outnumber partitions.
	chPartitions = 7919
	// chReplication is the number of points each member has on the ring. Arc lengths, and so the number
	// of units a member is first choice for, vary by about 1/sqrt(chReplication); the bounded-load pass
	// evens them out. The library sorts the whole ring after adding each member, so building it costs
	// O(M² × chReplication × log M): with 20, 100 members take about 12 ms of the 50 ms budget.
	chReplication = 20
	// chRingLoad is the library's partition bound (ceil(floor(P/M) × load) partitions per member). It is
	// set so high that it never binds: the library places partitions in id order, so with a binding
	// bound one join re-places partitions far from the newcomer's arcs. Balance is bounded per unit
	// instead, by the deferred-acceptance pass below.
	chRingLoad = 1e6
)

// LoadBound is the most units the consistent-hash strategy gives one of m members when it places n units:
// ceil(1.25 × n/m). Round robin stays within ceil(n/m), which is never more.
func LoadBound(n, m int) int { return ceilDiv(5*n, 4*m) }

// FloorBound is the fewest units the consistent-hash strategy gives one of m members when it places
// n >= m units: floor(0.75 × n/m), and at least 1, so no member is idle. With fewer units than members
// it is 0: some members must be idle. Round robin gives at least floor(n/m), which is never less.
func FloorBound(n, m int) int {
	if n < m {
		return 0
	}
	return max(1, 3*n/(4*m))
}

// SpreadBound is the most of one connector's t tasks the consistent-hash strategy gives one of m
// members: 1 while t <= m/2, so every task runs on a worker of its own when there are at least twice as
// many workers as tasks; beyond that 2, or ceil(1.25 × t/m) for a connector of more than 1.6 × m tasks.
// Distinct workers right up to t = m would force a near-perfect matching for such a connector, which
// a join or leave reshuffles: with every first choice from the ring, a bound of 1 up to t = 0.8 × m
// moved 1.45 × the minimum in total over the random shapes of TestPropertyMovement, this one 1.41 and
// none at all 1.28. The caps the strategy applies ramp up to this bound (spreadCap). Round robin
// stays within ceil(t/m).
func SpreadBound(t, m int) int {
	if 2*t <= m {
		return 1
	}
	return max(2, ceilDiv(5*t, 4*m))
}

// consistentHashStrategy places units with github.com/buraksezer/consistent (xxhash as hasher) and
// rendezvous hashing for their first choices, then bounds loads at both ends itself, because units hash
// lumpily: a member's share of the ring varies by about ±20%, and a handful of units per member varies
// by ±sqrt(handful).
//
// The algorithm, for M sorted members and N sorted units:
//
//  1. First choice. One bit of a unit's hash decides where its first choice comes from: for half of the
//     units it is the owner of the unit's key ("conn", or "conn" NUL "<task>") on the ring, for the
//     other half the member of highest rendezvous score mix(hash(unit) ^ hash(member)). Both are
//     consistent: a join or leave changes only the first choices that the newcomer takes or the
//     leaver gives up. The ring alone gives each member a first-choice share as uneven as its arcs
//     (±20% with 20 points per member, and more points cost O(M²) to build); rendezvous alone is even
//     (the multinomial spread only) but does not use the ring. Half and half halves the ring's spread:
//     over the random shapes of TestPropertyMovement, ring only moved 1.43 × the minimum in total,
//     half and half 1.32, rendezvous only 1.24 (figure 5 of BENCHMARKS.md shows all three).
//  2. Caps. Member w takes at most caps[w] units, LoadBound(N, M) dithered down by a fraction that is a
//     hash of w: floor(1.25 × N/M + u_w), u_w in [0, 1). A cap shared by all members moves by one for
//     all at once when N/M crosses a step, which re-places the overflow of every full member;
//     dithered, each cap steps on its own. At most spreadCap of a connector's T tasks go to one member:
//     1 while T <= M/2, ramping up to SpreadBound(T, M).
//  3. Deferred acceptance (Gale and Shapley). Each unit proposes to its first choice, then to the other
//     members in descending rendezvous score; a member holds the units it ranks best within its caps
//     and rejects the rest, ranking the units whose first choice it is above the others, then by the
//     same score. The result is the unit-optimal stable matching, which does not depend on the order of
//     proposals; a join or leave changes it by chains of displacements that end at the first member
//     with room, which most members have.
//  4. Floor. While a member holds fewer than FloorBound(N, M) units, it takes the unit with the
//     highest score for it among members above the floor (within SpreadBound when one is).
//
// Every unit is placed exactly once because the caps sum to more than N (or, where the dither leaves
// too little room, a unit goes to a member below LoadBound with the fewest tasks of its connector).
// No step depends on input order, map iteration or randomness, so every worker computes the same result.
//
// What it does not promise: that every single join or leave moves at most 2.5 × MinMoves. Over the
// random shapes of TestPropertyMovement the total is 1.32 × the total minimum, but 25 of 374 events
// exceed 2.5 × a minimum of at least 4, all but one where members hold fewer than 16 units each: there
// the caps and the floor bind on many members and a join shifts what they reject. A stateless strategy
// cannot tell which placement was in force, so it cannot always undo only the minimum (figure 5 of
// BENCHMARKS.md compares it with the alternatives; docs/distributed.md states the bounds).
type consistentHashStrategy struct {
	// first selects where first choices come from: firstMixed in production, the others only for the
	// comparison of figure 5.
	first firstChoice
}

// firstChoice is the source of the units' first choices.
type firstChoice int

const (
	firstMixed firstChoice = iota // ring or rendezvous, one bit of the unit's hash decides
	firstRing                     // the ring for every unit
	firstScore                    // rendezvous for every unit
)

// NewConsistentHash returns the consistent-hash strategy.
func NewConsistentHash() Strategy { return consistentHashStrategy{} }

// ringMember is a member on the ring. Its ring name ends in '#', so the library's virtual-node keys
// (name + decimal index) cannot collide between members such as "w1" and "w11".
type ringMember struct {
	idx  int
	name string
}

func (m ringMember) String() string { return m.name }

type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// ringPartitions returns the partition count for m members: the library panics when members outnumber
// partitions, so a cluster larger than chPartitions gets one partition per member.
func ringPartitions(m int) int { return max(chPartitions, m) }

// mix is the splitmix64 finalizer: it turns a combination of two well-mixed hashes into a new one.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func unitKey(u Unit) []byte {
	b := make([]byte, 0, len(u.Connector)+8)
	b = append(b, u.Connector...)
	if u.Task != ConnectorTask {
		b = append(b, 0)
		b = strconv.AppendInt(b, int64(u.Task), 10)
	}
	return b
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// placement is the state of one Assign call; units and members are indexes into the sorted input.
type placement struct {
	ledger
	first      []int   // unit → first choice (ring owner)
	capacity   int     // LoadBound
	caps       []int   // member → its dithered cap, <= capacity
	floor      int     // FloorBound
	spreadCaps []int32 // spreadCaps[c*m+w]: member w's cap for the tasks of connector c
}

func (s consistentHashStrategy) Assign(members []string, units []Unit) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	if len(us) == 0 {
		return a, nil
	}
	p := newPlacement(ms, us)
	p.locate(ms, s.first)
	p.propose()
	p.fill()
	for i, u := range us { // us is sorted, so each member's slice comes out sorted
		a[ms[p.owner[i]]] = append(a[ms[p.owner[i]]], u)
	}
	return a, nil
}

func newPlacement(ms []string, us []Unit) *placement {
	m, n := len(ms), len(us)
	p := &placement{ledger: newLedger(ms, us), first: make([]int, n), capacity: LoadBound(n, m), caps: make([]int, m),
		floor: FloorBound(n, m)}
	tasks := p.tasks
	for w := range ms {
		// floor(1.25 × n/m + u) with u = (hash >> 32) / 2^32, in integers so every platform agrees.
		u := p.memberHash[w] >> 32
		c := (uint64(5*n)<<32 + uint64(4*m)*u) / (uint64(4*m) << 32)
		p.caps[w] = max(1, min(int(c), p.capacity))
	}
	p.spreadCaps = make([]int32, len(tasks)*m)
	c := 0
	for i, u := range us {
		if i > 0 && u.Connector == us[i-1].Connector {
			continue
		}
		h := xxhash.Sum64String(u.Connector)
		for w := range m {
			p.spreadCaps[c*m+w] = int32(spreadCap(tasks[c], m, mix(h^p.memberHash[w])>>32))
		}
		c++
	}
	return p
}

// spreadCap is one member's cap for the t tasks of a connector over m members, u in [0, 2^32) a hash
// of the pair: 1 while t <= m/2; SpreadBound(t, m) from t = 0.75 × m; in between 2 with probability
// (4t - 2m)/m, else 1. A cap that stepped from 1 to 2 at t = m/2 for every member at once would re-place
// much of such a connector on the join or leave that crosses the step (100 workers, connectors of 50
// tasks: one leave moved 551 units where 82 had to); ramped, a join or leave changes it for a few
// members. It never exceeds SpreadBound(t, m).
func spreadCap(t, m int, u uint64) int {
	switch {
	case 2*t <= m:
		return 1
	case 4*t < 3*m:
		if u*uint64(m) < uint64(4*t-2*m)<<32 {
			return 2
		}
		return 1
	}
	return SpreadBound(t, m)
}

// locate sets each unit's first choice: the owner of its key on the ring or the member of highest
// score, as source says (firstMixed: the ring when bit 0 of mix(hash ^ mixedSalt) is set).
func (p *placement) locate(ms []string, source firstChoice) {
	onRing := func(i int) bool {
		switch source {
		case firstRing:
			return true
		case firstScore:
			return false
		}
		return mix(p.hash[i]^mixedSalt)&1 == 1
	}
	var ring *consistent.Consistent
	if source != firstScore {
		ringMembers := make([]consistent.Member, p.m)
		for i, name := range ms {
			ringMembers[i] = ringMember{idx: i, name: name + "#"}
		}
		ring = consistent.New(ringMembers, consistent.Config{
			Hasher:            xxHasher{},
			PartitionCount:    ringPartitions(p.m),
			ReplicationFactor: chReplication,
			Load:              chRingLoad,
		})
	}
	for i, u := range p.us {
		if onRing(i) {
			if owner, ok := ring.LocateKey(unitKey(u)).(ringMember); ok {
				p.first[i] = owner.idx
				continue
			}
		}
		best, bs := 0, p.score(i, 0)
		for w := 1; w < p.m; w++ {
			if s := p.score(i, w); s > bs {
				best, bs = w, s
			}
		}
		p.first[i] = best
	}
}

// mixedSalt makes the ring-or-rendezvous bit independent of the scores and of the ring position.
const mixedSalt = 0x5bd1e9955bd1e995

func (p *placement) score(i, w int) uint64 { return mix(p.hash[i] ^ p.memberHash[w]) }

func (p *placement) spreadOK(i, w int) bool {
	return p.us[i].IsConnector() || p.perConn[p.conn[i]*p.m+w] < p.spreadCaps[p.conn[i]*p.m+w]
}

// worse reports whether member w ranks unit i below unit j: units whose first choice is w come first,
// then higher scores, then (never in practice) lower indexes.
func (p *placement) worse(i, j, w int) bool {
	if hi, hj := p.first[i] == w, p.first[j] == w; hi != hj {
		return !hi
	}
	if si, sj := p.score(i, w), p.score(j, w); si != sj {
		return si < sj
	}
	return i > j
}

// propose runs unit-proposing deferred acceptance under the caps of p.
func (p *placement) propose() {
	held := make([][]int, p.m)
	// Next proposal of unit i: its first choice while lastW[i] == -2; then (lastW[i] == -1) the member
	// of highest (score, index) other than the first choice; then the highest below (lastS[i], lastW[i]).
	lastS := make([]uint64, p.n)
	lastW := make([]int, p.n)
	stack := make([]int, 0, p.n)
	for i := p.n - 1; i >= 0; i-- {
		lastW[i] = -2
		stack = append(stack, i)
	}
	var orphans []int
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		w := p.first[i]
		if lastW[i] == -2 && w >= 0 {
			lastW[i] = -1
		} else {
			w = -1
			bs := uint64(0)
			for x := range p.m {
				if x == p.first[i] {
					continue
				}
				s := p.score(i, x)
				if lastW[i] >= 0 && (s > lastS[i] || (s == lastS[i] && x >= lastW[i])) {
					continue
				}
				if w < 0 || s > bs || (s == bs && x > w) {
					w, bs = x, s
				}
			}
			if w < 0 { // rejected by every member
				orphans = append(orphans, i)
				continue
			}
			lastS[i], lastW[i] = bs, w
		}
		held[w] = append(held[w], i)
		p.place(i, w)
		reject := -1
		if !p.us[i].IsConnector() && p.perConn[p.conn[i]*p.m+w] > p.spreadCaps[p.conn[i]*p.m+w] {
			for _, j := range held[w] {
				if !p.us[j].IsConnector() && p.conn[j] == p.conn[i] && (reject < 0 || p.worse(j, reject, w)) {
					reject = j
				}
			}
		} else if p.load[w] > p.caps[w] {
			for _, j := range held[w] {
				if reject < 0 || p.worse(j, reject, w) {
					reject = j
				}
			}
		}
		if reject >= 0 {
			k := slices.Index(held[w], reject)
			held[w] = slices.Delete(held[w], k, k+1)
			p.unplace(reject)
			stack = append(stack, reject)
		}
	}
	slices.Sort(orphans)
	for _, i := range orphans {
		p.place(i, p.fallback(i))
	}
}

// fill raises every member below the floor, the emptiest first (ties by member hash), by taking the
// unit with the highest score for it among the members above the floor: first among units whose
// connector stays within SpreadBound on it, then among all.
func (p *placement) fill() {
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
		best, bs := -1, uint64(0)
		for _, spread := range []bool{true, false} {
			for i := range p.n {
				if p.load[p.owner[i]] > p.floor && (!spread || p.spreadOK(i, w)) {
					if s := p.score(i, w); best < 0 || s > bs {
						best, bs = i, s
					}
				}
			}
			if best >= 0 {
				break
			}
		}
		// n >= m × floor, so while w is below the floor some member is above it: best >= 0.
		p.unplace(best)
		p.place(best, w)
	}
}

// fallback picks, for a unit every member rejected, the member below LoadBound with the fewest tasks of
// the unit's connector, ties broken by score. One exists because m × LoadBound >= 1.25 × n > n.
func (p *placement) fallback(i int) int {
	best, bestCount, bestScore := -1, int32(0), uint64(0)
	for w := range p.m {
		if p.load[w] >= p.capacity {
			continue
		}
		count := int32(0)
		if !p.us[i].IsConnector() {
			count = p.perConn[p.conn[i]*p.m+w]
		}
		s := p.score(i, w)
		if best < 0 || count < bestCount || (count == bestCount && s > bestScore) {
			best, bestCount, bestScore = w, count, s
		}
	}
	return best
}
