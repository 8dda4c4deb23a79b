package scheduler

// moves is what one worker does between two assignments: stop the units it no longer owns, then
// start the units it newly owns. Both are sorted with Unit.Compare.
type moves struct {
	Stop  []Unit
	Start []Unit
}

// movement measures what a change of assignment moves, for the property tests, the data files and
// the placement benchmark: moved counts units present in both whose owner changed (a unit that
// appears or disappears is started or stopped, but is not a move), and perWorker has an entry for
// every worker that must stop or start something (a worker that only leaves stops everything it
// had). The runtime needs no such plan: each worker reconciles its own units against the new
// assignment, and claims make a new owner wait until the old one has stopped a moved unit
// (worker/claims.go).
func movement(old, new Assignment) (moved int, perWorker map[string]moves) {
	oldOwners, newOwners := old.Owners(), new.Owners()
	perWorker = make(map[string]moves)
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
