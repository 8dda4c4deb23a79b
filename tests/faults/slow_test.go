package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// delayProxy forwards TCP connections from a listener of its own to target, holding every
// chunk of bytes for delay in each direction: a slow link without netem (which this kernel
// lacks). Throughput is kept; only latency is added.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	g      errgroup.Group
	mu     sync.Mutex
	conns  []net.Conn
}

func startDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", hostAddr+":0")
	require.NoError(t, err)
	p := &delayProxy{ln: ln, target: target, delay: delay}
	p.g.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *delayProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *delayProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.g.Wait()
}

func (p *delayProxy) accept() error {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return nil // closed
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.g.Go(func() error { p.pipe(out, in); return nil })
		p.g.Go(func() error { p.pipe(in, out); return nil })
	}
}

// pipe copies src to dst, each chunk written delay after it was read.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	q := make(chan chunk, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g errgroup.Group
	g.Go(func() error {
		defer dst.Close()
		for c := range q {
			select {
			case <-time.After(time.Until(c.at)):
			case <-ctx.Done():
				return nil
			}
			if _, err := dst.Write(c.b); err != nil {
				cancel()
				return nil
			}
		}
		return nil
	})
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{time.Now().Add(p.delay), append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cancel()
			}
			break
		}
	}
	close(q)
	_ = g.Wait()
	_ = src.Close()
}

// slowLink sends namespace slot i's new connections to the name server and broker through
// delay proxies (nftables DNAT in the namespace): every packet between them waits delay in
// each direction.
func slowLink(t *testing.T, i int, delay time.Duration) {
	t.Helper()
	var rules []string
	for _, port := range rmqPorts {
		p := startDelayProxy(t, fmt.Sprintf("%s:%d", hostAddr, port), delay)
		rules = append(rules, fmt.Sprintf("    ip daddr %s tcp dport %d dnat to %s:%d", hostAddr, port, hostAddr, p.port()))
	}
	cmd := exec.Command("ip", "netns", "exec", nsName(i), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader("table ip rmqfaultsnat {\n  chain out { type nat hook output priority -100; policy accept;\n" +
		strings.Join(rules, "\n") + "\n  }\n}\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = sh("ip", "netns", "exec", nsName(i), "nft", "delete", "table", "ip", "rmqfaultsnat") })
}

// TestSlowLink: one worker reaches the broker and name server over a slow link (latency in
// each direction, from its start) while another worker is killed and restarted: the slow one
// keeps its units and takes its share, nothing is lost or reordered.
func TestSlowLink(t *testing.T) {
	suite(t)
	if !*full {
		t.Skip("full suite only (-faults.full)")
	}
	const delay = 100 * time.Millisecond
	began := time.Now()
	c := newClusterWith(t, 3, func(c *cluster) { slowLink(t, 1, delay) })
	c.addPipes(3, "")
	m := c.watch(t)
	time.Sleep(5 * time.Second)
	slow := c.unitsOn("worker-1")
	ids := []string{"worker-2", "worker-3"}
	victim := ids[rand.IntN(2)]
	m.impair(victim, true)
	at := time.Now()
	c.Workers[victim].Kill()
	require.Eventually(t, func() bool { return c.running() }, 2*time.Minute, 20*time.Millisecond)
	failover := time.Since(at)
	c.Start(victim)
	m.impair(victim, false)
	c.waitRunning(2 * time.Minute)
	time.Sleep(5 * time.Second)
	tl := c.finish(3 * time.Minute)
	un, unit := m.longest()
	record(t, result{Scenario: fmt.Sprintf("slow link (%v each way) to one worker, SIGKILL of another", delay), Trials: 1, tally: tl,
		Unavail: un, UnavailUnit: unit, Offered: rate * len(c.pipes), Took: time.Since(began),
		Notes: fmt.Sprintf("3 workers; worker-1 behind the slow link ran %d units; %s killed: its units RUNNING elsewhere after %s",
			len(slow), victim, secs(failover))})
}
