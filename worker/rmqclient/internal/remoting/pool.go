package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPoolClosed is returned by a request through a closed Pool.
var ErrPoolClosed = errors.New("remoting: connection pool closed")

// idleAfter is how long a connection may sit unused before the next request dials a fresh
// one: brokers and name servers close channels idle for 120 s, and a request written as the
// peer closes would be lost.
const idleAfter = 60 * time.Second

// Pool keeps one connection per address and multiplexes requests over it by opaque, so a
// long-polling pull does not hold up the requests behind it. A broken connection, or one
// whose peer stopped answering (see conn.roundTrip), fails the requests waiting on it and
// is replaced by the next request. Safe for concurrent use; Close ends every connection and
// waits for their readers.
type Pool struct {
	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	wg     sync.WaitGroup // one reader per live connection
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{conns: map[string]*conn{}} }

// Close closes every connection (their waiting requests fail) and waits for their readers
// to end. Requests after Close fail with ErrPoolClosed. It is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[string]*conn{}
	p.mu.Unlock()
	for _, c := range conns {
		c.fail(ErrPoolClosed)
	}
	p.wg.Wait()
	return nil
}

// conn is one multiplexed connection.
type conn struct {
	nc      net.Conn
	wmu     sync.Mutex // one frame written at a time
	mu      sync.Mutex
	pending map[int32]chan *Command
	err     error // set once the connection is broken; no request is registered after
	used    time.Time
	// reads counts the frames read: a request that reaches its deadline with the count
	// unchanged since it was written heard nothing at all from the peer (see roundTrip).
	reads atomic.Uint64
}

// get returns the live connection to addr, dialling one if there is none, the last one
// broke, or it has been idle for idleAfter.
func (p *Pool) get(ctx context.Context, addr string) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if c, ok := p.conns[addr]; ok {
		c.mu.Lock()
		ok = c.err == nil && (time.Since(c.used) < idleAfter || len(c.pending) > 0)
		if ok {
			c.used = time.Now()
		}
		c.mu.Unlock()
		if ok {
			p.mu.Unlock()
			return c, nil
		}
		delete(p.conns, addr)
		c.fail(errors.New("idle connection retired"))
	}
	p.mu.Unlock()

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, pending: map[int32]chan *Command{}, used: time.Now()}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = nc.Close()
		return nil, ErrPoolClosed
	}
	if other, ok := p.conns[addr]; ok {
		// Another request dialled meanwhile: use one connection, close the spare.
		p.mu.Unlock()
		_ = nc.Close()
		return other, nil
	}
	p.conns[addr] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go func() { // owned by the pool: Close waits for it
		defer p.wg.Done()
		c.read()
		p.mu.Lock()
		if p.conns[addr] == c {
			delete(p.conns, addr)
		}
		p.mu.Unlock()
	}()
	return c, nil
}

// read hands every response to the request waiting for its opaque until the connection
// breaks. Requests the peer sends (flag bit 0 clear) and answers nobody waits for any more
// (their caller gave up) are dropped.
func (c *conn) read() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		resp, err := readFrame(br, true)
		if err != nil {
			c.fail(err)
			return
		}
		c.reads.Add(1)
		if resp.Flag&1 == 0 {
			continue
		}
		c.mu.Lock()
		ch, ok := c.pending[resp.Opaque]
		delete(c.pending, resp.Opaque)
		c.mu.Unlock()
		if ok {
			ch <- resp // buffered: never blocks
		}
	}
}

// fail breaks the connection: it is closed and every waiting request gets err.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	pending := c.pending
	c.pending = map[int32]chan *Command{}
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, ch := range pending {
		close(ch)
	}
}

// roundTrip writes req and waits for its response, ctx's end or the connection's failure.
// sent reports whether the request may have reached the peer. hold is how long the peer may
// rightly keep the request unanswered (a long-polling pull's suspend time), zero for others.
//
// A request whose deadline passes (a caller that cancels proves nothing) after more than
// hold, with nothing at all read on the connection since it was written, fails the
// connection: the peer stopped answering (a half-open connection after a one-way partition,
// a peer that hung), and a connection kept in use is never retired as idle, so every later
// request would wait out its deadline on it too. The next request dials anew. A peer that
// answered anything meanwhile is alive and merely slow for this request: its connection stays.
func (c *conn) roundTrip(ctx context.Context, req *Command, frame []byte, hold time.Duration) (resp *Command, sent bool, err error) {
	ch := make(chan *Command, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, false, err
	}
	c.pending[req.Opaque] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, req.Opaque)
		c.mu.Unlock()
	}

	reads := c.reads.Load() // before the write, so an answer however quick counts
	c.wmu.Lock()
	dl, _ := ctx.Deadline() // zero: none
	_ = c.nc.SetWriteDeadline(dl)
	_, werr := c.nc.Write(frame)
	c.wmu.Unlock()
	if werr != nil {
		forget()
		c.fail(werr)
		return nil, false, werr
	}
	written := time.Now()
	select {
	case r, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return nil, true, fmt.Errorf("connection lost: %w", err)
		}
		return r, true, nil
	case <-ctx.Done():
		forget()
		if waited := time.Since(written); errors.Is(ctx.Err(), context.DeadlineExceeded) && waited > hold && c.reads.Load() == reads {
			c.fail(fmt.Errorf("%w: nothing read for %s after a request (code %d)", errSilentPeer, waited.Round(time.Millisecond), req.Code))
		}
		return nil, true, ctx.Err()
	}
}

// errSilentPeer fails a connection on which a request got no answer, nor anything else, in time.
var errSilentPeer = errors.New("peer stopped answering")
