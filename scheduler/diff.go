package scheduler

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
