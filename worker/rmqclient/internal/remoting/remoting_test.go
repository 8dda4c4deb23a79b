package remoting

import (
	"bytes"
	"encoding/json"
	"testing"

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
