package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// ErrDuplicateMember means another live client already uses this member id in the group.
var ErrDuplicateMember = errors.New("member id already in use")

// memberID is the part of a client id ("<ip>@<instance>[@<unit>]") naming the member.
func memberID(clientID string) string {
	parts := strings.Split(clientID, "@")
	if len(parts) >= 2 {
		return parts[1]
	}
	return clientID
}

// membersHook wraps the client's averaging allocation: the client calls the strategy with
// the group's full, sorted client id list on every rebalance (broker change notifications,
// the 20s timer, start), which is how a member learns the membership. Calls for other
// topics (the group's %RETRY% topic) and empty lists are ignored; the set is reported
// only when it changed.
func membersHook(topics []string, report func([]string)) consumer.AllocateStrategy {
	var mu sync.Mutex
	var last []string
	return func(group, current string, mqAll []*primitive.MessageQueue, cidAll []string) []*primitive.MessageQueue {
		if len(mqAll) > 0 && slices.Contains(topics, mqAll[0].Topic) && len(cidAll) > 0 {
			ids := make([]string, 0, len(cidAll))
			for _, c := range cidAll {
				ids = append(ids, memberID(c))
			}
			sort.Strings(ids)
			ids = slices.Compact(ids)
			mu.Lock()
			changed := !slices.Equal(ids, last)
			if changed {
				last = ids
			}
			mu.Unlock()
			if changed {
				report(slices.Clone(ids))
			}
		}
		return consumer.AllocateByAveragely(group, current, mqAll, cidAll)
	}
}

// Members asks the broker hosting topic for the member ids of group.
func (c *Client) Members(ctx context.Context, group, topic string) ([]string, error) {
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		return nil, err
	}
	addr, err := c.brokerAddr(ctx, qs[0].BrokerName)
	if err != nil {
		return nil, err
	}
	ids, err := c.rpc.GetConsumerList(ctx, addr, group)
	if err != nil && !remoting.IsCode(err, 1) { // SYSTEM_ERROR: "no consumer for this group"
		return nil, fmt.Errorf("members of %s: %w", group, err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, memberID(id))
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// Join makes this process a member of group, watching topic (a single-queue topic that is
// never written), under the member id member, and reports the member list to onChange
// whenever it changes. A member id already live in the group is refused with
// ErrDuplicateMember. Closing the returned consumer leaves the group; the broker tells
// the others at once.
func (c *Client) Join(ctx context.Context, group, topic, member string, onChange func([]string)) (*Consumer, error) {
	if err := c.CreateTopic(ctx, TopicSpec{Name: topic, Queues: 1}); err != nil {
		return nil, err
	}
	live, err := c.Members(ctx, group, topic)
	if err != nil {
		return nil, err
	}
	if slices.Contains(live, member) {
		return nil, fmt.Errorf("%w: %q is live in group %s (members %v); give each worker its own workerId", ErrDuplicateMember, member, group, live)
	}
	return c.NewConsumer("member", ConsumerOptions{
		Group: group, Topics: []string{topic}, Instance: member, OnMembers: onChange,
	}, func(context.Context, []*ReceivedMessage) error { return nil })
}

// MemberView asks the broker hosting a group's topic for the group's members, looking the
// broker's address up with the name servers once and again only after an error: the
// membership stays observable while the name servers are down.
type MemberView struct {
	c            *Client
	group, topic string
	mu           sync.Mutex
	addr         string
}

// NewMemberView returns a MemberView of group on topic.
func (c *Client) NewMemberView(group, topic string) *MemberView {
	return &MemberView{c: c, group: group, topic: topic}
}

// Members returns the member ids of the group, sorted.
func (v *MemberView) Members(ctx context.Context) ([]string, error) {
	v.mu.Lock()
	addr := v.addr
	v.mu.Unlock()
	if addr == "" {
		qs, err := v.c.TopicQueues(ctx, v.topic)
		if err != nil {
			return nil, err
		}
		if addr, err = v.c.brokerAddr(ctx, qs[0].BrokerName); err != nil {
			return nil, err
		}
	}
	ids, err := v.c.rpc.GetConsumerList(ctx, addr, v.group)
	if err != nil && !remoting.IsCode(err, 1) { // SYSTEM_ERROR: "no consumer for this group"
		v.mu.Lock()
		v.addr = ""
		v.mu.Unlock()
		return nil, fmt.Errorf("members of %s: %w", v.group, err)
	}
	v.mu.Lock()
	v.addr = addr
	v.mu.Unlock()
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, memberID(id))
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}
