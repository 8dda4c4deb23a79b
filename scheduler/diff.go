package scheduler

// Moves is what one worker must do to go from an old assignment to a new one: stop the units it no
// longer owns, then start the units it newly owns. Both are sorted with Unit.Compare.
type Moves struct {
	Stop  []Unit
	Start []Unit
}

// Diff compares two assignments. moved counts units present in both whose owner changed (a unit that
// appears or disappears is started or stopped, but is not a move). perWorker has an entry for every worker
// that must stop or start something, in either assignment; a worker that only leaves stops everything it
// had. It measures movement (the property tests, the data files and figure 5 use it); the runtime does not
// need the plan, since each worker reconciles its own units and claims make a new owner wait until the old
// one has stopped a moved unit (worker/claims.go).
func Diff(old, new Assignment) (moved int, perWorker map[string]Moves) {
	oldOwners, newOwners := old.Owners(), new.Owners()
	perWorker = make(map[string]Moves)
	for u, w := range oldOwners {
		nw, ok := newOwners[u]
		if ok && nw == w {
			continue
		}
		if ok {
			moved++
		}
		mv := perWorker[w]
		mv.Stop = append(mv.Stop, u)
		perWorker[w] = mv
	}
	for u, w := range newOwners {
		if ow, ok := oldOwners[u]; ok && ow == w {
			continue
		}
		mv := perWorker[w]
		mv.Start = append(mv.Start, u)
		perWorker[w] = mv
	}
	for w, mv := range perWorker {
		sortUnits(mv.Stop)
		sortUnits(mv.Start)
		perWorker[w] = mv
	}
	return moved, perWorker
}

// MinMoves is the fewest units that must move when the membership changes from old's members to
// members, with n units before and after:
//   - every unit of a departed worker must move: its unit count in old;
//   - every joined worker must receive its fair share floor(n/M') of the n units over the M' new
//     members, or the others average more than n/M'.
//
// For one join or one leave this is the "minimum" of the movement property: consistent-hash aims to
// move at most about 1.5 × MinMoves (see the package tests for the exact allowance).
func MinMoves(old Assignment, members []string, n int) int {
	min := 0
	current := make(map[string]bool, len(members))
	for _, m := range members {
		current[m] = true
		if _, ok := old[m]; !ok && len(members) > 0 {
			min += n / len(members)
		}
	}
	for w, us := range old {
		if !current[w] {
			min += len(us)
		}
	}
	return min
}
