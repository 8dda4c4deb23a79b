package scheduler

import (
	"cmp"
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
	// chReplication is the number of points each member has on the ring. Arc lengths, and so preferred
	// loads, vary by about 1/sqrt(chReplication): more points mean fewer evictions and fewer extra moves
	// on a join or leave, but the library sorts the whole ring after adding each member, so building it
	// costs O(M² × chReplication × log M): with 40, 100 members and 10,100 units take about 30 ms of CPU
	// (the budget is 50 ms), but thousands of members would take seconds. It must be >= 2 or the library
	// cannot place partitions with a single member.
	chReplication = 40
	// chRingLoad is the library's partition bound: no member owns more than ceil(floor(P/M) × 1.25)
	// partitions. It must be > 1: with M <= P that keeps M × bound >= P, so placement never panics.
	chRingLoad = 1.25
)

// LoadBound is the most units the consistent-hash strategy gives one of m members when it places n units:
// ceil(1.25 × n/m). Round robin stays within ceil(n/m), which is never more.
func LoadBound(n, m int) int { return ceilDiv(5*n, 4*m) }

// SpreadBound is the most of one connector's t tasks the consistent-hash strategy gives one of m >= 2
// members: ceil(1.5 × t/m) + 1. It is looser than LoadBound per connector on purpose: every cap the
// keep pass enforces evicts units, and evictions are what make a join or leave move more than the
// minimum. Round robin stays within ceil(t/m).
func SpreadBound(t, m int) int { return ceilDiv(3*t, 2*m) + 1 }

// consistentHashStrategy places units with github.com/buraksezer/consistent (xxhash as hasher, bounded
// partition loads), then bounds unit loads itself, because a handful of keys hashes lumpily.
//
// The algorithm, for M sorted members and N sorted units:
//
//  1. Preferred owner. Each unit's key ("conn", or "conn" NUL "<task>") is located on the ring, which
//     maps keys to partitions and partitions to members with bounded loads. A join or leave changes the
//     preferred owner of about N/M units and, through the library's partition bound, a few more.
//  2. Caps. capacity = LoadBound(N, M) units per member; SpreadBound(T, M) tasks of a connector with T
//     tasks per member when M >= 2. A connector unit counts toward capacity only.
//  3. Keep pass. Units are visited in priority order, a hash of the unit key that does not depend on
//     the membership. A unit stays with its preferred owner while that owner is below both caps;
//     otherwise it is evicted. Whether a unit is kept depends only on the caps and the units preferring
//     the same member, so a membership change disturbs only the members whose preferred sets it changes.
//  4. Place pass. Evicted units, in priority order, go to the member with the highest rendezvous score
//     mix(hash(unit) ^ hash(member)) among members below both caps; a join or leave only inserts or
//     removes one candidate, so most evicted units keep their place. If no member is below both caps
//     (never seen in the property tests), the unit goes to a member below capacity that holds the
//     fewest tasks of its connector, ties broken by score.
//
// Every unit is placed exactly once because M × capacity >= 1.25 N > N. No step depends on input order,
// map iteration or randomness, so every worker computes the same result.
//
// What a stateless strategy cannot promise: the keep pass evicts by comparing preferred loads with
// caps that change with M, so when members hold only a few units each (fewer than about 10) a join or
// leave may shift evictions and move several times the minimum. With more units per member, moves
// stay close to the minimum (see the property tests and BenchmarkMovement).
type consistentHashStrategy struct{}

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

func (consistentHashStrategy) Assign(members []string, units []Unit) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	m, n := len(ms), len(us)
	if n == 0 {
		return a, nil
	}

	ringMembers := make([]consistent.Member, m)
	memberHash := make([]uint64, m)
	for i, name := range ms {
		ringMembers[i] = ringMember{idx: i, name: name + "#"}
		memberHash[i] = xxhash.Sum64String(name)
	}
	ring := consistent.New(ringMembers, consistent.Config{
		Hasher:            xxHasher{},
		PartitionCount:    ringPartitions(m),
		ReplicationFactor: chReplication,
		Load:              chRingLoad,
	})

	// Per unit: connector index, hash, preferred owner. Per connector: task count.
	conn := make([]int, n)
	hash := make([]uint64, n)
	pref := make([]int, n)
	var tasks []int
	for i, u := range us {
		if i == 0 || u.Connector != us[i-1].Connector {
			tasks = append(tasks, 0)
		}
		conn[i] = len(tasks) - 1
		if !u.IsConnector() {
			tasks[conn[i]]++
		}
		key := unitKey(u)
		hash[i] = xxhash.Sum64(key)
		pref[i] = -1
		if owner, ok := ring.LocateKey(key).(ringMember); ok {
			pref[i] = owner.idx
		}
	}

	capacity := LoadBound(n, m)
	spreadCaps := make([]int, len(tasks))
	for c, t := range tasks {
		spreadCaps[c] = t // one member: no bound beyond the total
		if m >= 2 {
			spreadCaps[c] = SpreadBound(t, m)
		}
	}

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	prio := func(i int) uint64 { return mix(hash[i] + 0x9e3779b97f4a7c15) }
	slices.SortFunc(order, func(x, y int) int {
		if c := cmp.Compare(prio(x), prio(y)); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})

	load := make([]int, m)
	perConn := make([]int32, len(tasks)*m) // perConn[c*m+w]: tasks of connector c on member w
	owner := make([]int, n)
	fits := func(i, w int) bool {
		if load[w] >= capacity {
			return false
		}
		return us[i].IsConnector() || int(perConn[conn[i]*m+w]) < spreadCaps[conn[i]]
	}
	place := func(i, w int) {
		owner[i] = w
		load[w]++
		if !us[i].IsConnector() {
			perConn[conn[i]*m+w]++
		}
	}

	// Keep pass.
	evicted := make([]int, 0, n/8)
	for _, i := range order {
		if w := pref[i]; w >= 0 && fits(i, w) {
			place(i, w)
		} else {
			evicted = append(evicted, i)
		}
	}
	// Place pass.
	for _, i := range evicted {
		best, bestScore := -1, uint64(0)
		for w := range m {
			if s := mix(hash[i] ^ memberHash[w]); fits(i, w) && (best < 0 || s > bestScore) {
				best, bestScore = w, s
			}
		}
		if best < 0 {
			best = fallback(i, m, capacity, load, perConn, conn, hash, memberHash, us)
		}
		place(i, best)
	}

	for i, u := range us { // us is sorted, so each member's slice comes out sorted
		a[ms[owner[i]]] = append(a[ms[owner[i]]], u)
	}
	return a, nil
}

// fallback picks, for a unit no member can take within both caps, the member below capacity with the
// fewest tasks of the unit's connector, ties broken by rendezvous score. One exists because
// m × capacity > n.
func fallback(i, m, capacity int, load []int, perConn []int32, conn []int, hash, memberHash []uint64, us []Unit) int {
	best, bestCount, bestScore := -1, int32(0), uint64(0)
	for w := range m {
		if load[w] >= capacity {
			continue
		}
		count := int32(0)
		if !us[i].IsConnector() {
			count = perConn[conn[i]*m+w]
		}
		s := mix(hash[i] ^ memberHash[w])
		if best < 0 || count < bestCount || (count == bestCount && s > bestScore) {
			best, bestCount, bestScore = w, count, s
		}
	}
	return best
}
