package remoting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuoteIntKeys(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":{0:"127.0.0.1:10911",1:"x"}}`, `{"a":{"0":"127.0.0.1:10911","1":"x"}}`},
		{`{"s":"{0:1,2:3}"}`, `{"s":"{0:1,2:3}"}`},
		{`{"e":"\"{1:2"}`, `{"e":"\"{1:2"}`},
		{`[1,2,3]`, `[1,2,3]`},
		{`{-1:"neg"}`, `{"-1":"neg"}`},
	}
	for _, c := range cases {
		got := QuoteIntKeys([]byte(c.in))
		require.Equal(t, c.want, string(got))
		require.True(t, json.Valid(got), string(got))
	}
}

func TestCommandRoundTrip(t *testing.T) {
	c := &Command{Code: 106, Language: "GO", Version: 317, Opaque: 7, ExtFields: map[string]string{"topic": "t"}, Body: []byte("body")}
	frame, err := c.Encode()
	require.NoError(t, err)
	got, err := Decode(bytes.NewReader(frame))
	require.NoError(t, err)
	require.Equal(t, c.Code, got.Code)
	require.Equal(t, c.Opaque, got.Opaque)
	require.Equal(t, c.ExtFields, got.ExtFields)
	require.Equal(t, []byte("body"), got.Body)
}

func TestDecodeRejectsBadFrames(t *testing.T) {
	for name, frame := range map[string][]byte{
		"short":          {0, 0},
		"header too big": {0, 0, 0, 8, 0, 0, 0, 200, 0, 0, 0, 0},
		"huge":           {0x7f, 0, 0, 0, 0, 0, 0, 1},
		"rocketmq codec": {0, 0, 0, 8, 1, 0, 0, 1, 0, 0, 0, 0},
	} {
		_, err := Decode(bytes.NewReader(frame))
		require.Error(t, err, name)
	}
}

func TestSign(t *testing.T) {
	// The vector of rocketmq-client-go's own signature test: the signed content is the
	// AccessKey value (the only field here) followed by the body.
	ext := map[string]string{}
	Credentials{AccessKey: "Hello RocketMQ ", SecretKey: "adiaushdiaushd"}.Sign(ext, []byte("Client ACL Feature"))
	require.Equal(t, "tAb/54Rwwcq+pbH8Loi7FWX4QSQ=", ext["Signature"])
	require.Equal(t, "Hello RocketMQ ", ext["AccessKey"])

	// Values are taken in key order ("AccessKey" < "queueId" < "topic"); a stale Signature
	// field is not part of the content.
	a := map[string]string{"topic": "T", "queueId": "3", "Signature": "old"}
	Credentials{AccessKey: "ak", SecretKey: "sk"}.Sign(a, nil)
	b := map[string]string{}
	Credentials{AccessKey: "ak3T", SecretKey: "sk"}.Sign(b, nil)
	require.Equal(t, b["Signature"], a["Signature"], "content is AccessKey, queueId, topic values in that order")
}

// TestCallSigns: a client with credentials sends AccessKey and Signature fields, without
// modifying the caller's map; one without sends neither.
func TestCallSigns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan *Command, 2)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := Decode(conn)
			if err == nil {
				got <- req
				resp := &Command{Opaque: req.Opaque, Flag: 1}
				frame, _ := resp.Encode()
				_, _ = conn.Write(frame)
			}
			conn.Close()
		}
	}()
	ext := map[string]string{"topic": "T"}
	signed := Client{Credentials: Credentials{AccessKey: "ak", SecretKey: "sk"}}
	_, err = signed.CallBody(context.Background(), ln.Addr().String(), CodeGetMaxOffset, ext, []byte("b"))
	require.NoError(t, err)
	req := <-got
	want := map[string]string{"topic": "T"}
	Credentials{AccessKey: "ak", SecretKey: "sk"}.Sign(want, []byte("b"))
	require.Equal(t, want, req.ExtFields)
	require.Equal(t, map[string]string{"topic": "T"}, ext, "the caller's fields are not modified")

	_, err = Client{}.Call(context.Background(), ln.Addr().String(), CodeGetMaxOffset, ext)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"topic": "T"}, (<-got).ExtFields)
}

// TestCallTimeout: Client.Timeout (the worker's operationTimeout) bounds a request whose
// context has no deadline; a peer that never answers does not hold the caller for the 5s
// default.
func TestCallTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // read nothing, answer nothing
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Client{Timeout: 50 * time.Millisecond}.Call(context.Background(), ln.Addr().String(), CodeGetMaxOffset, nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
	case <-time.After(4 * time.Second):
		t.Fatal("Client.Timeout was not applied")
	}
}
