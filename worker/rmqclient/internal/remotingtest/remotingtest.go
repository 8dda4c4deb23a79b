// Package remotingtest serves fake RocketMQ peers (a broker, a name server) for tests: a
// loopback listener that answers every request with what a test's function says.
package remotingtest

import (
	"bufio"
	"net"
	"testing"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// Serve listens on loopback until the test ends and answers each request of each connection
// with answer(req), sent as a response to it (Flag and Opaque are set here). It returns the
// address to dial.
func Serve(t testing.TB, answer func(req *remoting.Command) *remoting.Command) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // ends when the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // ends when the client closes the connection
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := remoting.Decode(r)
					if err != nil {
						return
					}
					resp := answer(req)
					resp.Flag, resp.Opaque = 1, req.Opaque
					frame, err := resp.Encode()
					if err != nil {
						return
					}
					if _, err := c.Write(frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
