package scheduler

import "fmt"

// Strategy names accepted by New.
const (
	ConsistentHash = "consistent-hash"
	RoundRobin     = "round-robin"
	// StickyName selects NewSticky: the caller feeds Rebalance the placement in force.
	StickyName = "sticky"

	// Java class names of RocketMQ Connect's allocTaskStrategy, accepted as aliases.
	javaConsistentHash = "org.apache.rocketmq.connect.runtime.service.strategy.AllocateConnAndTaskStrategyByConsistentHash"
	javaRoundRobin     = "org.apache.rocketmq.connect.runtime.service.strategy.DefaultAllocateConnAndTaskStrategy"
)

// Strategy places units on members.
//
// Assign is a pure function: the same members and units, in any order, give the same Assignment on every
// worker and every call. It returns an error wrapping ErrNoMembers when members is empty, ErrDuplicateMember
// or ErrDuplicateUnit when an input repeats, and ErrInvalidMember or ErrInvalidUnit for an empty name or a
// task id below ConnectorTask. On success every unit is assigned to exactly one member and every member is a
// key of the result. Implementations hold no mutable state and are safe for concurrent use.
type Strategy interface {
	Assign(members []string, units []Unit) (Assignment, error)
}

// New returns the strategy called name: StickyName (a Sticky; also the default for an empty name),
// ConsistentHash or RoundRobin, or the Java class name of RocketMQ Connect's equivalent strategy.
func New(name string) (Strategy, error) {
	switch name {
	case "", StickyName:
		return NewSticky(), nil
	case ConsistentHash, javaConsistentHash:
		return NewConsistentHash(), nil
	case RoundRobin, javaRoundRobin:
		return roundRobin{}, nil
	}
	return nil, fmt.Errorf("allocTaskStrategy %q: %w", name, ErrUnknownStrategy)
}
