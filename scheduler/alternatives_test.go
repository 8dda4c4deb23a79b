package scheduler

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Published alternatives, implemented here for the comparison of figure 5 only.

// rendezvousBounded is rendezvous (highest random weight) hashing with bounded loads: units in a fixed
// hash order, each on the member of highest score mix(hash(unit) ^ hash(member)) that holds fewer than
// ceil(1.25 × average) units.
type rendezvousBounded struct{}

func (rendezvousBounded) Assign(members []string, units []Unit) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	m, n := len(ms), len(us)
	capacity := LoadBound(n, m)
	mh := make([]uint64, m)
	for i, name := range ms {
		mh[i] = xxhash.Sum64String(name)
	}
	load := make([]int, m)
	owner := make([]int, n)
	for _, i := range hashOrder(us) {
		h := xxhash.Sum64(unitKey(us[i]))
		best, bs := -1, uint64(0)
		for w := range m {
			if s := mix(h ^ mh[w]); load[w] < capacity && (best < 0 || s > bs) {
				best, bs = w, s
			}
		}
		owner[i] = best
		load[best]++
	}
	for i, u := range us {
		a[ms[owner[i]]] = append(a[ms[owner[i]]], u)
	}
	return a, nil
}

// boundedRing is consistent hashing with bounded loads applied per unit (Mirrokni, Thorup and
// Zadimoghaddam, SODA 2018): members on a ring with 40 points each, units taken in a fixed hash order,
// each walks clockwise from its own point to the first member holding fewer than ceil(1.25 × average).
type boundedRing struct{}

func (boundedRing) Assign(members []string, units []Unit) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	m, n := len(ms), len(us)
	capacity := LoadBound(n, m)
	type point struct {
		h uint64
		w int
	}
	ring := make([]point, 0, m*ringBoundedPoints)
	for w, name := range ms {
		for r := range ringBoundedPoints {
			ring = append(ring, point{xxhash.Sum64String(name + "#" + strconv.Itoa(r)), w})
		}
	}
	slices.SortFunc(ring, func(x, y point) int { return cmp.Or(cmp.Compare(x.h, y.h), cmp.Compare(x.w, y.w)) })
	load := make([]int, m)
	owner := make([]int, n)
	for _, i := range hashOrder(us) {
		h := xxhash.Sum64(unitKey(us[i]))
		j, _ := slices.BinarySearchFunc(ring, h, func(p point, h uint64) int { return cmp.Compare(p.h, h) })
		for {
			if j == len(ring) {
				j = 0
			}
			if w := ring[j].w; load[w] < capacity {
				owner[i] = w
				load[w]++
				break
			}
			j++
		}
	}
	for i, u := range us {
		a[ms[owner[i]]] = append(a[ms[owner[i]]], u)
	}
	return a, nil
}

// ringBoundedPoints is the number of ring points per member of boundedRing.
const ringBoundedPoints = 40
