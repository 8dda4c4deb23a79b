package scheduler

import "errors"

var (
	// ErrNoMembers means an assignment was asked for with an empty member list. No unit can be placed,
	// so callers run nothing until membership is known.
	ErrNoMembers = errors.New("scheduler: no members")
	// ErrDuplicateMember means the same worker id appears twice in the member list.
	ErrDuplicateMember = errors.New("scheduler: duplicate member")
	// ErrDuplicateUnit means the same connector or task appears twice in the unit list.
	ErrDuplicateUnit = errors.New("scheduler: duplicate unit")
	// ErrInvalidMember means a worker id is empty.
	ErrInvalidMember = errors.New("scheduler: invalid member")
	// ErrInvalidUnit means a unit has an empty connector name or a task id below -1.
	ErrInvalidUnit = errors.New("scheduler: invalid unit")
	// ErrUnknownStrategy means New was given a name that is neither a strategy nor one of its aliases.
	ErrUnknownStrategy = errors.New("scheduler: unknown strategy")
)
