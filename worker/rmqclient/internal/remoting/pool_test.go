package remoting

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakePeer answers requests on every accepted connection: code 1 requests are held until
// release is closed, the others are answered at once with the request's extFields. It
// counts connections.
type fakePeer struct {
	ln      net.Listener
	conns   atomic.Int32
	release chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	open    []net.Conn
}

func newFakePeer(t *testing.T) *fakePeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &fakePeer{ln: ln, release: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			p.mu.Lock()
			p.open = append(p.open, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.dropAll()
		p.wg.Wait()
	})
	return p
}

func (p *fakePeer) serve(c net.Conn) {
	var wmu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		req, err := Decode(c)
		if err != nil {
			return
		}
		answer := func() {
			frame, _ := (&Command{Opaque: req.Opaque, Flag: 1, ExtFields: req.ExtFields}).Encode()
			wmu.Lock()
			_, _ = c.Write(frame)
			wmu.Unlock()
		}
		if req.Code == CodePullMessage {
			// Two stored messages from the requested offset; the bodies name their offset.
			off, _ := strconv.ParseInt(req.ExtFields["queueOffset"], 10, 64)
			var body []byte
			for o := off; o < off+2; o++ {
				body = append(body, storedMessage(magicV1, 0, o, 0, []byte(fmt.Sprintf("body-%d", o)), "T", "p\x01v")...)
			}
			frame, _ := (&Command{Opaque: req.Opaque, Flag: 1, Body: body, ExtFields: map[string]string{
				"nextBeginOffset": strconv.FormatInt(off+2, 10), "minOffset": "0", "maxOffset": "100"}}).Encode()
			wmu.Lock()
			_, _ = c.Write(frame)
			wmu.Unlock()
			continue
		}
		if req.Code == 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-p.release
				answer()
			}()
			continue
		}
		// A request pushed by the peer first: the client must skip it.
		push, _ := (&Command{Code: 40, Opaque: 999}).Encode()
		wmu.Lock()
		_, _ = c.Write(push)
		wmu.Unlock()
		answer()
	}
}

// dropAll closes every connection the peer accepted, as a broker closing idle channels.
func (p *fakePeer) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// TestPoolReusesConnection: many requests, sequential and concurrent, go over one
// connection, each getting its own answer.
func TestPoolReusesConnection(t *testing.T) {
	p := newFakePeer(t)
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool, Timeout: 2 * time.Second}
	for i := 0; i < 20; i++ {
		resp, err := cl.Call(context.Background(), p.ln.Addr().String(), 2, map[string]string{"i": strconv.Itoa(i)})
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), resp.ExtFields["i"])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := cl.Call(context.Background(), p.ln.Addr().String(), 2, map[string]string{"i": strconv.Itoa(i)})
			if err == nil && resp.ExtFields["i"] != strconv.Itoa(i) {
				err = errTest("answer of another request: " + resp.ExtFields["i"])
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, p.conns.Load(), "one connection for every request")
}

type errTest string

func (e errTest) Error() string { return string(e) }

// TestPoolHeldRequestDoesNotBlock: a request the peer holds (a long-polling pull) does not
// delay the requests behind it on the same connection, and its caller can give up.
func TestPoolHeldRequestDoesNotBlock(t *testing.T) {
	p := newFakePeer(t)
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool, Timeout: 5 * time.Second}
	addr := p.ln.Addr().String()
	_, err := cl.Call(context.Background(), addr, 2, nil) // the connection exists before the race below
	require.NoError(t, err)
	held := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := cl.Call(ctx, addr, 1, nil)
		held <- err
	}()
	for i := 0; i < 5; i++ {
		_, err := cl.Call(context.Background(), addr, 2, nil)
		require.NoError(t, err)
	}
	cancel()
	require.ErrorIs(t, <-held, context.Canceled)
	close(p.release) // the late answer to the abandoned request is dropped
	_, err = cl.Call(context.Background(), addr, 2, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.conns.Load())
}

// TestPoolRedialsAfterPeerClose: when the peer closes the kept connection, the next
// request dials a new one instead of failing.
func TestPoolRedialsAfterPeerClose(t *testing.T) {
	p := newFakePeer(t)
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool, Timeout: 2 * time.Second}
	addr := p.ln.Addr().String()
	_, err := cl.Call(context.Background(), addr, 2, nil)
	require.NoError(t, err)
	p.dropAll()
	require.Eventually(t, func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.conns) == 0
	}, 2*time.Second, 5*time.Millisecond, "the reader notices the close")
	_, err = cl.Call(context.Background(), addr, 2, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, p.conns.Load())
}

// TestPoolCloseFailsWaiting: Close fails a request waiting on a connection and refuses new
// ones; it returns only after the connection readers ended (goleak would see them).
func TestPoolCloseFailsWaiting(t *testing.T) {
	p := newFakePeer(t)
	pool := NewPool()
	cl := Client{Pool: pool, Timeout: 5 * time.Second}
	addr := p.ln.Addr().String()
	held := make(chan error, 1)
	go func() {
		_, err := cl.Call(context.Background(), addr, 1, nil)
		held <- err
	}()
	require.Eventually(t, func() bool { return p.conns.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		for _, c := range pool.conns {
			c.mu.Lock()
			n := len(c.pending)
			c.mu.Unlock()
			return n == 1
		}
		return false
	}, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, pool.Close())
	require.ErrorIs(t, <-held, ErrPoolClosed)
	_, err := cl.Call(context.Background(), addr, 2, nil)
	require.ErrorIs(t, err, ErrPoolClosed)
	close(p.release)
}

// storedMessage encodes a message as the broker stores it (MessageDecoder's layout).
func storedMessage(magic int32, queueID int32, offset int64, sysFlag int32, body []byte, topic string, props string) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.BigEndian, v) }
	w(int32(0)) // total size, patched below
	w(magic)
	w(int32(0))   // body crc
	w(queueID)    // queue id
	w(int32(0))   // flag
	w(offset)     // queue offset
	w(int64(777)) // physical offset
	w(sysFlag)
	w(int64(1000)) // born timestamp
	b.Write([]byte{127, 0, 0, 1, 0, 0, 0x30, 0x39})
	w(int64(2000)) // store timestamp
	b.Write([]byte{127, 0, 0, 1, 0, 0, 0x2a, 0x9f})
	w(int32(3)) // reconsume times
	w(int64(0)) // prepared transaction offset
	w(int32(len(body)))
	b.Write(body)
	if magic == magicV2 {
		w(int16(len(topic)))
	} else {
		b.WriteByte(byte(len(topic)))
	}
	b.WriteString(topic)
	w(int16(len(props)))
	b.WriteString(props)
	out := b.Bytes()
	binary.BigEndian.PutUint32(out, uint32(len(out)))
	return out
}

func TestDecodeMessages(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte("inflated body"))
	_ = zw.Close()
	props := "KEYS\x01k1 k2\x02a\x01b\x02"
	body := append(storedMessage(magicV1, 2, 41, 0, []byte("plain"), "T", props),
		storedMessage(magicV2, 2, 42, sysFlagCompress, z.Bytes(), "T", "a\x01c")...)
	msgs, err := DecodeMessages(body)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, int64(41), msgs[0].QueueOffset)
	require.Equal(t, int32(2), msgs[0].QueueID)
	require.Equal(t, "plain", string(msgs[0].Body))
	require.Equal(t, int64(1000), msgs[0].BornTimestamp)
	require.Equal(t, int64(2000), msgs[0].StoreTimestamp)
	require.Equal(t, int32(3), msgs[0].ReconsumeTimes)
	require.Equal(t, "7F00000100002A9F0000000000000309", msgs[0].OffsetMsgID())
	got := map[string]string{}
	ForEachProperty(msgs[0].Properties, func(k, v string) { got[k] = v })
	require.Equal(t, map[string]string{"KEYS": "k1 k2", "a": "b"}, got)
	require.Equal(t, "inflated body", string(msgs[1].Body))
	got = map[string]string{}
	ForEachProperty(msgs[1].Properties, func(k, v string) { got[k] = v })
	require.Equal(t, map[string]string{"a": "c"}, got)

	unknown := storedMessage(magicV1, 0, 0, sysFlagCompress|4<<8, []byte("x"), "T", "")
	_, err = DecodeMessages(unknown)
	require.ErrorIs(t, err, ErrBadMessage)
	require.ErrorContains(t, err, "compression type 4")
	for name, bad := range map[string][]byte{
		"truncated": body[:len(body)-3],
		"bad magic": append([]byte{0, 0, 0, 8, 1, 2, 3, 4}, 0),
		"body overrun": func() []byte {
			m := storedMessage(magicV1, 0, 0, 0, []byte("abc"), "T", "")
			binary.BigEndian.PutUint32(m[len(m)-2-1-1-4-3:], 1<<20)
			return m
		}(),
	} {
		_, err := DecodeMessages(bad)
		require.ErrorIs(t, err, ErrBadMessage, name)
	}
}

func FuzzDecodeMessages(f *testing.F) {
	f.Add(storedMessage(magicV1, 1, 2, 0, []byte("b"), "T", "a\x01b"))
	f.Add(storedMessage(magicV2, 1, 2, sysFlagCompress, []byte("not zlib"), "T", ""))
	f.Add(storedMessage(magicV1, 1, 2, sysFlagCompress|compressLZ4, lz4Frame(f, []byte("lz4 body")), "T", ""))
	f.Add(storedMessage(magicV1, 1, 2, sysFlagCompress|compressZstd, zstdFrame(f, []byte("zstd body")), "T", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := DecodeMessages(b)
		for _, m := range msgs {
			ForEachProperty(m.Properties, func(string, string) {})
		}
	})
}

// BenchmarkDecodeMessages decodes a pull response of 32 messages of 100 B with the
// properties a worker's producer sets, and walks their properties.
func BenchmarkDecodeMessages(b *testing.B) {
	var body []byte
	props := "connect.timestamp\x011700000000000\x02UNIQ_KEY\x017F0000010001000000000000000A\x02WAIT\x01true\x02"
	for i := 0; i < 32; i++ {
		body = append(body, storedMessage(magicV1, 1, int64(i), 0, make([]byte, 100), "bench-topic", props)...)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		msgs, err := DecodeMessages(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			ForEachProperty(m.Properties, func(string, string) {})
		}
	}
}

// TestPullReleaseKeepsBodies: after a pull is released its response buffer is reused by
// the next responses, and the bodies it returned are left as they were.
func TestPullReleaseKeepsBodies(t *testing.T) {
	p := newFakePeer(t)
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool}
	ctx := context.Background()
	var kept [][]byte
	for off := int64(0); off < 40; off += 2 {
		res, err := cl.Pull(ctx, p.ln.Addr().String(), PullRequest{Group: "g", Topic: "T", Offset: off, Max: 2})
		require.NoError(t, err)
		require.Equal(t, PullFound, res.Status)
		require.Equal(t, off+2, res.Next)
		require.Len(t, res.Messages, 2)
		for i, m := range res.Messages {
			require.Equal(t, off+int64(i), m.QueueOffset)
			got := map[string]string{}
			ForEachProperty(m.Properties, func(k, v string) { got[k] = v })
			require.Equal(t, map[string]string{"p": "v"}, got)
			kept = append(kept, m.Body)
		}
		res.Release()
		res.Release()
	}
	for i, b := range kept {
		require.Equal(t, fmt.Sprintf("body-%d", i), string(b))
		require.Equal(t, len(b), cap(b), "a body cannot be appended to in place")
	}
}

// silentFirstPeer reads requests on every connection but answers them only from the second
// connection on: its first connection is one whose peer stopped answering (a half-open
// connection after a one-way partition, a hung broker). It counts connections.
func silentFirstPeer(t *testing.T) (addr string, conns *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	conns = new(atomic.Int32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			silent := conns.Add(1) == 1
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					req, err := Decode(c)
					if err != nil {
						return
					}
					if silent {
						continue
					}
					frame, _ := (&Command{Opaque: req.Opaque, Flag: 1}).Encode()
					if _, err := c.Write(frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), conns
}

// TestPoolDropsAConnectionThatStoppedAnswering: a request whose deadline passes with nothing
// read on its connection since it was written fails that connection, so the next request
// dials a new one instead of waiting out its own deadline on the silent one (a connection in
// use is never retired as idle).
func TestPoolDropsAConnectionThatStoppedAnswering(t *testing.T) {
	addr, conns := silentFirstPeer(t)
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := cl.Call(ctx, addr, 2, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cl.Call(ctx, addr, 2, nil)
	require.NoError(t, err, "the second request goes over a new connection")
	require.EqualValues(t, 2, conns.Load())
}

// TestPoolKeepsAConnectionThatMayRightlyBeSilent: a connection stays when the request's
// caller cancelled it (not its deadline), when the request is a long poll the broker may
// hold past the deadline, and when something else was read on it meanwhile (the peer is
// alive, only slow to answer this request).
func TestPoolKeepsAConnectionThatMayRightlyBeSilent(t *testing.T) {
	p := newFakePeer(t)
	defer close(p.release) // the held requests' answers, or the peer's cleanup would wait for them
	pool := NewPool()
	defer pool.Close()
	cl := Client{Pool: pool}
	addr := p.ln.Addr().String()
	_, err := cl.Call(context.Background(), addr, 2, nil)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = cl.Call(ctx, addr, 1, nil) // held by the peer
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = cl.do(ctx, addr, 1, nil, nil, time.Minute) // held, as a long poll may be
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	held := make(chan error, 1)
	go func() {
		_, err := cl.Call(ctx, addr, 1, nil)
		held <- err
	}()
	for {
		if _, err := cl.Call(context.Background(), addr, 2, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case err = <-held:
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = cl.Call(context.Background(), addr, 2, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.conns.Load(), "one connection all along")
}
