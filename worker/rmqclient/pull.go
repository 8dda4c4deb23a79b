package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// brokerAddrTTL is how long a broker address learnt from the name server is used before it
// is asked again (an error from the broker forgets it at once).
const brokerAddrTTL = 30 * time.Second

// Puller reads queues for one consumer group by explicit pulls over the client's kept
// connections. It neither joins the group nor commits: the caller owns the offsets and
// stores them with CommitOffset. Safe for concurrent use.
type Puller struct {
	c     *Client
	group string

	mu    sync.Mutex
	addrs map[string]brokerAddr // broker name → master address
}

type brokerAddr struct {
	addr string
	at   time.Time
}

// NewPuller returns a puller for group (which must match rmqname.GroupPattern: brokers accept
// longer group names than topic names).
func (c *Client) NewPuller(group string) (*Puller, error) {
	if !rmqname.Group(group) {
		return nil, fmt.Errorf("%w: consumer group %q must match %s", ErrInvalid, group, rmqname.GroupPattern)
	}
	return &Puller{c: c, group: group, addrs: map[string]brokerAddr{}}, nil
}

// Pulled is the answer to one pull.
type Pulled struct {
	// Messages are the messages from the requested offset on, in offset order.
	Messages []*ReceivedMessage
	// Next is the offset to pull next: past the last message, or where the queue's stored
	// range begins when the requested offset had been deleted (Moved).
	Next int64
	// MinOffset and MaxOffset are the queue's stored range as the broker answered
	// (MaxOffset: the offset of the next message written).
	MinOffset, MaxOffset int64
	// Moved: the broker has no records from the requested offset up to Next and nothing
	// was read: the offset was outside the stored range, or the records there are gone
	// although the queue still lists them (the broker deleted their commit log file, as it
	// does early when its disk passes its forcible-clean ratio). Read on from Next.
	Moved bool
	// Status is the broker's answer in words, for logs: FOUND, NO_NEW_MSG, RETRY or
	// OFFSET_MOVED, then its store's reason (OFFSET_OVERFLOW_ONE, MESSAGE_WAS_REMOVING, ...).
	Status string

	slab *msgSlab // where Messages are, for Release
}

// PastEnd is where a reader whose position lies past the queue's end (the stored range
// [MinOffset, MaxOffset)) reads on. When the queue starts at 0 it was made again (its topic
// deleted and created, its store wiped): every message in it is new, and it is read from its
// start. Otherwise a replica that lacks the newest messages took over: what it holds up to its
// end was read before, and reading goes on at its end. This is RocketMQ 4's store rule for a
// pull past the end; 5.3 brokers suggest the end either way (Next), which skips a made-again
// queue's messages when they arrived before the answer (a long poll held at the old end).
func (p Pulled) PastEnd() int64 {
	if p.MinOffset == 0 {
		return 0
	}
	return p.MaxOffset
}

// Release lets a later pull reuse the ReceivedMessage values of Messages: call it at most
// once, when no pointer from Messages is used any more. What the messages point to (Body,
// Properties, Keys, strings) is not reused and stays valid. Not calling it is fine.
func (p *Pulled) Release() {
	if p.slab == nil {
		return
	}
	sl := p.slab
	p.slab, p.Messages = nil, nil
	clear(sl.msgs)
	clear(sl.ptrs)
	sl.msgs, sl.ptrs = sl.msgs[:0], sl.ptrs[:0]
	msgSlabs.Put(sl)
}

// msgSlab holds one pull's ReceivedMessage values and the pointers to them.
type msgSlab struct {
	msgs []ReceivedMessage
	ptrs []*ReceivedMessage
}

var msgSlabs = sync.Pool{New: func() any { return new(msgSlab) }}

func (p *Puller) addr(ctx context.Context, broker string) (string, error) {
	p.mu.Lock()
	a, ok := p.addrs[broker]
	p.mu.Unlock()
	if ok && time.Since(a.at) < brokerAddrTTL {
		return a.addr, nil
	}
	addr, err := p.c.brokerAddr(ctx, broker)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.addrs[broker] = brokerAddr{addr: addr, at: time.Now()}
	p.mu.Unlock()
	return addr, nil
}

func (p *Puller) forget(broker string) {
	p.mu.Lock()
	delete(p.addrs, broker)
	p.mu.Unlock()
}

// Pull reads up to max messages of q from offset. When there is nothing at offset yet,
// the broker holds the request for up to wait (long polling) and Pull returns no messages
// with Next == offset; wait 0 answers at once. The broker returns at most 32 messages per
// pull whatever max is. A message that cannot be decoded gives an *UndecodableError
// together with the messages before it (Next is then the bad message's offset).
func (p *Puller) Pull(ctx context.Context, q Queue, offset int64, max int, wait time.Duration) (Pulled, error) {
	addr, err := p.addr(ctx, q.BrokerName)
	if err != nil {
		return Pulled{Next: offset}, err
	}
	req := remoting.PullRequest{Group: p.group, Topic: q.Topic, QueueID: q.QueueID, Offset: offset, Max: max, Suspend: wait}
	res, err := p.c.rpc.Pull(ctx, addr, req)
	if remoting.IsCode(err, remoting.CodeSubscriptionGroupNotExist) {
		// A broker with autoCreateSubscriptionGroup=false knows only groups created first.
		if err = p.c.rpc.CreateSubscriptionGroup(ctx, addr, p.group); err == nil {
			res, err = p.c.rpc.Pull(ctx, addr, req)
		}
	}
	var bad *remoting.DecodeError
	if errors.As(err, &bad) && res != nil {
		// The broker answered well; one of its messages is the problem, and no pull gets
		// past it. The messages before it are handed over, and the caller decides whether to
		// skip it (an error policy) or stop.
		out := Pulled{Next: bad.Offset, MinOffset: res.Min, MaxOffset: res.Max, Status: pullStatus(res)}
		out.slab = msgSlabs.Get().(*msgSlab)
		out.Messages = receivedMessages(out.slab, q, res.Messages, res.Max)
		res.Release()
		return out, fmt.Errorf("pull %s at %d for %s: %w", q, offset, p.group, undecodable(q, bad))
	}
	if err != nil {
		if ctx.Err() == nil {
			p.forget(q.BrokerName)
		}
		return Pulled{Next: offset}, fmt.Errorf("pull %s at %d for %s: %w", q, offset, p.group, err)
	}
	out := Pulled{Next: res.Next, MinOffset: res.Min, MaxOffset: res.Max, Status: pullStatus(res)}
	switch res.Status {
	case remoting.PullFound:
		out.slab = msgSlabs.Get().(*msgSlab)
		out.Messages = receivedMessages(out.slab, q, res.Messages, res.Max)
		res.Release()
		if n := len(out.Messages); n > 0 && out.Next <= out.Messages[n-1].Offset {
			out.Next = out.Messages[n-1].Offset + 1
		}
	case remoting.PullOffsetMoved:
		out.Moved = true
	default:
		// Nothing found, or "pull again": past the queue's tail the broker names the offset
		// asked for; a later one means the records in between are gone (MESSAGE_WAS_REMOVING,
		// OFFSET_FOUND_NULL), and pulling the same offset again gets the same answer.
		out.Moved = res.Next > offset
		if !out.Moved {
			out.Next = offset
		}
	}
	return out, nil
}

// UndecodableError is a stored message that Pull read but cannot decode: compressed in a
// way this client does not know, or corrupt. It wraps ErrUndecodable and the cause. Pull
// returns it with the messages before the bad one, and Pulled.Next at Offset: pulling from
// Offset again gives the same error; pulling from Offset+1 skips the message.
type UndecodableError struct {
	Queue  Queue
	Offset int64
	// Body is the message's body as stored (still compressed); nil when its framing is
	// broken. Properties (user properties) and Keys are its own, when they could be read.
	Body       []byte
	Properties map[string]string
	Keys       []string
	// Err is why it cannot be decoded.
	Err error
}

func (e *UndecodableError) Error() string {
	return fmt.Sprintf("%v: %s offset %d: %v", ErrUndecodable, e.Queue, e.Offset, e.Err)
}

// Unwrap lets errors.Is match ErrUndecodable and the cause.
func (e *UndecodableError) Unwrap() []error { return []error{ErrUndecodable, e.Err} }

// undecodable describes bad, a message of q, as an UndecodableError.
func undecodable(q Queue, bad *remoting.DecodeError) *UndecodableError {
	e := &UndecodableError{Queue: q, Offset: bad.Offset, Body: bad.Stored, Err: bad.Err}
	if bad.Properties != nil {
		e.Properties = map[string]string{}
		remoting.ForEachProperty(bad.Properties, func(k, v string) {
			switch {
			case k == propKeys:
				e.Keys = strings.Fields(v)
			case !IsSystemProperty(k):
				e.Properties[k] = v
			}
		})
	}
	return e
}

// pullStatus names a pull's answer for logs: the response, then the broker's reason.
func pullStatus(res *remoting.PullResult) string {
	s := "FOUND"
	switch res.Status {
	case remoting.PullNoNew:
		s = "NO_NEW_MSG"
	case remoting.PullRetry:
		s = "RETRY"
	case remoting.PullOffsetMoved:
		s = "OFFSET_MOVED"
	}
	if res.Remark != "" && res.Remark != s {
		s += " " + res.Remark
	}
	return s
}

// receivedMessages converts decoded messages into the slab into. Allocation is per batch
// where it can be: the messages in one slab (reused after Release), every message's properties copied into one string that names
// and values are cut from, single keys in one slice and derived message ids in one
// string; per message only the map of user properties is made (when there are any).
func receivedMessages(into *msgSlab, q Queue, msgs []remoting.Message, maxOff int64) []*ReceivedMessage {
	into.msgs = slices.Grow(into.msgs[:0], len(msgs))[:len(msgs)]
	into.ptrs = slices.Grow(into.ptrs[:0], len(msgs))[:len(msgs)]
	slab, out := into.msgs, into.ptrs
	total := 0
	for i := range msgs {
		total += len(msgs[i].Properties)
	}
	var sb strings.Builder
	sb.Grow(total)
	for i := range msgs {
		sb.Write(msgs[i].Properties)
	}
	all := sb.String()
	keySlab := make([]string, len(msgs))
	var user [][2]string // one message's user properties, reused
	idLen := 0           // bytes of the derived message ids
	pos := 0
	for i := range msgs {
		m := &msgs[i]
		rm := &slab[i]
		props := all[pos : pos+len(m.Properties)]
		pos += len(m.Properties)
		*rm = ReceivedMessage{
			Queue:          q,
			Offset:         m.QueueOffset,
			Body:           m.Body,
			BornTime:       time.UnixMilli(m.BornTimestamp),
			StoreTime:      time.UnixMilli(m.StoreTimestamp),
			ReconsumeTimes: m.ReconsumeTimes,
			MaxOffset:      maxOff,
			rawProps:       props,
		}
		user = user[:0]
		forEachProperty(props, func(k, v string) {
			if !IsSystemProperty(k) {
				user = append(user, [2]string{k, v})
				return
			}
			switch k {
			case "KEYS":
				if singleKey(v) {
					keySlab[i] = v
					rm.Keys = keySlab[i : i+1 : i+1]
				} else {
					rm.Keys = strings.Fields(v)
				}
			case "TAGS":
				rm.Tag = v
			case "UNIQ_KEY":
				rm.MsgID = v
			}
		})
		rm.Properties = make(map[string]string, len(user))
		for _, kv := range user {
			rm.Properties[kv[0]] = kv[1]
		}
		if rm.MsgID == "" {
			idLen += 2 * (len(m.StoreHost) + 8)
		}
		out[i] = rm
	}
	if idLen > 0 {
		ids := make([]byte, 0, idLen)
		for i := range msgs {
			if slab[i].MsgID == "" {
				ids = msgs[i].AppendOffsetMsgID(ids)
			}
		}
		all := string(ids)
		for i := range msgs {
			if slab[i].MsgID == "" {
				n := 2 * (len(msgs[i].StoreHost) + 8)
				slab[i].MsgID, all = all[:n], all[n:]
			}
		}
	}
	return out
}

// singleKey reports whether a KEYS value is one key as strings.Fields would cut it: not
// empty and without white space (only ASCII is looked at, so any other byte counts as not).
func singleKey(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x80 {
			return false
		}
	}
	return true
}

// forEachProperty calls f with each name and value of raw properties (name 0x01 value
// 0x02); name and value are substrings of raw.
func forEachProperty(raw string, f func(name, value string)) {
	for len(raw) > 0 {
		item := raw
		if end := strings.IndexByte(raw, 2); end >= 0 {
			item, raw = raw[:end], raw[end+1:]
		} else {
			raw = ""
		}
		if sep := strings.IndexByte(item, 1); sep > 0 {
			f(item[:sep], item[sep+1:])
		}
	}
}

// CommitOffset stores group's offset of q in the broker (the consumer offsets that
// mqadmin consumerProgress shows) and waits for the broker's acknowledgement.
func (p *Puller) CommitOffset(ctx context.Context, q Queue, offset int64) error {
	addr, err := p.addr(ctx, q.BrokerName)
	if err != nil {
		return err
	}
	err = p.c.rpc.UpdateConsumerOffset(ctx, addr, p.group, q.Topic, q.QueueID, offset)
	if remoting.IsCode(err, remoting.CodeSubscriptionGroupNotExist) {
		if err = p.c.rpc.CreateSubscriptionGroup(ctx, addr, p.group); err == nil {
			err = p.c.rpc.UpdateConsumerOffset(ctx, addr, p.group, q.Topic, q.QueueID, offset)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			p.forget(q.BrokerName)
		}
		return fmt.Errorf("commit offset %d of %s for %s: %w", offset, q, p.group, err)
	}
	return nil
}

// CommittedOffset returns group's stored offset of q; found is false when it has none.
func (p *Puller) CommittedOffset(ctx context.Context, q Queue) (offset int64, found bool, err error) {
	addr, err := p.addr(ctx, q.BrokerName)
	if err != nil {
		return 0, false, err
	}
	off, found, err := p.c.rpc.QueryConsumerOffset(ctx, addr, p.group, q.Topic, q.QueueID)
	if err != nil {
		if ctx.Err() == nil {
			p.forget(q.BrokerName)
		}
		return 0, false, fmt.Errorf("offset of %s in %s: %w", p.group, q, err)
	}
	return off, found, nil
}

// QueueRange returns q's stored range: the oldest offset and the next to write.
func (p *Puller) QueueRange(ctx context.Context, q Queue) (minOff, maxOff int64, err error) {
	addr, err := p.addr(ctx, q.BrokerName)
	if err != nil {
		return 0, 0, err
	}
	if minOff, err = p.c.rpc.GetMinOffset(ctx, addr, q.Topic, q.QueueID); err == nil {
		maxOff, err = p.c.rpc.GetMaxOffset(ctx, addr, q.Topic, q.QueueID)
	}
	if err != nil {
		if ctx.Err() == nil {
			p.forget(q.BrokerName)
		}
		return 0, 0, fmt.Errorf("range of %s: %w", q, err)
	}
	return minOff, maxOff, nil
}
