package scheduler

import (
	"cmp"
	"slices"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// The ring parameters of the strategy before issue 15.
const (
	legacyReplication = 40
	legacyRingLoad    = 1.25
)

// legacySpreadBound is the per-connector cap of the strategy before issue 15.
func legacySpreadBound(t, m int) int { return ceilDiv(3*t, 2*m) + 1 }

// legacyConsistentHash is the consistent-hash strategy as it was before issue 15 (ring preference, a
// keep pass and a place pass under ceil(1.25 × average), no floor), kept for the comparison of figure 5.
type legacyConsistentHash struct{}

func (legacyConsistentHash) Assign(members []string, units []Unit) (Assignment, error) {
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
		ReplicationFactor: legacyReplication,
		Load:              legacyRingLoad,
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
			spreadCaps[c] = legacySpreadBound(t, m)
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
			best = legacyFallback(i, m, capacity, load, perConn, conn, hash, memberHash, us)
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
func legacyFallback(i, m, capacity int, load []int, perConn []int32, conn []int, hash, memberHash []uint64, us []Unit) int {
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
