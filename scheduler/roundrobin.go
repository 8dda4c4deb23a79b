package scheduler

// roundRobin is RocketMQ Connect's DefaultAllocateConnAndTaskStrategy: members sorted, connectors dealt in
// name order, then tasks dealt connector by connector in task order, one counter running through both.
// It balances perfectly (no member has more than ceil(units/members)) and spreads each connector's tasks
// (at most ceil(tasks/members) per member), but a join or leave shifts almost every unit.
type roundRobin struct{}

func (roundRobin) Assign(members []string, units []Unit) (Assignment, error) {
	ms, us, err := prepare(members, units)
	if err != nil {
		return nil, err
	}
	a := newAssignment(ms)
	i := 0
	for _, u := range us { // sorted: a connector sorts before its tasks, so deal connectors first
		if u.IsConnector() {
			a[ms[i%len(ms)]] = append(a[ms[i%len(ms)]], u)
			i++
		}
	}
	for _, u := range us {
		if !u.IsConnector() {
			a[ms[i%len(ms)]] = append(a[ms[i%len(ms)]], u)
			i++
		}
	}
	for _, m := range ms {
		sortUnits(a[m])
	}
	return a, nil
}
