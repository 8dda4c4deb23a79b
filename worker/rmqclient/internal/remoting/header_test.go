package remoting

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// headerCases are response headers as brokers and name servers write them, and shapes the
// fast decoder leaves to encoding/json.
var headerCases = []string{
	`{"code":0,"extFields":{"nextBeginOffset":"64","suggestWhichBrokerId":"0","minOffset":"0","maxOffset":"200000","TRACE_ON":"true"},"flag":1,"language":"JAVA","opaque":1234,"serializeTypeCurrentRPC":"JSON","version":479}`,
	`{"code":19,"flag":1,"language":"JAVA","opaque":-7,"remark":"No new message","serializeTypeCurrentRPC":"JSON","version":479}`,
	`{"code":1,"extFields":null,"flag":1,"language":"JAVA","opaque":9,"remark":null,"version":479}`,
	`{"code":1,"flag":1,"language":"JAVA","opaque":9,"remark":"topic \"t\" not exist\n","version":479}`,
	`{"code":1,"flag":1,"language":"JAVA","opaque":9,"remark":"caf\u00e9","version":479}`,
	`{"code":0,"flag":1,"opaque":9,"extFields":{"a":"é","b":""},"x":1.5e3,"y":true,"z":false,"w":null}`,
	`{"code":0,"flag":1,"opaque":9,"nested":{"a":1}}`,
	`{"Code":3,"flag":1,"opaque":9}`,
	` { "code" : 2 , "opaque" : 3 } `,
	`{}`,
	`{"code":0,"extFields":{"k":"v"},"extFields":{"k2":"v2"}}`,
}

// TestDecodeJSONHeaderMatchesEncodingJSON: what Decode makes of a JSON header is what
// encoding/json makes of it, whichever path reads it.
func TestDecodeJSONHeaderMatchesEncodingJSON(t *testing.T) {
	fast := 0
	for _, h := range headerCases {
		var want Command
		require.NoError(t, json.Unmarshal([]byte(h), &want), h)
		var got Command
		if decodeJSONHeader([]byte(h), &got) {
			fast++
			require.Equal(t, want, got, h)
		}
		frame := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, h...)
		frame[3] = byte(len(h) + 4)
		frame[7] = byte(len(h))
		dec, err := Decode(bytes.NewReader(frame))
		require.NoError(t, err, h)
		dec.Body = nil
		require.Equal(t, want, *dec, h)
	}
	require.GreaterOrEqual(t, fast, 5, "the broker's usual headers take the fast path")
	require.True(t, decodeJSONHeader([]byte(headerCases[0]), &Command{}))
}

// FuzzDecodeJSONHeader: whatever the fast decoder accepts, encoding/json reads the same.
func FuzzDecodeJSONHeader(f *testing.F) {
	for _, h := range headerCases {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		var got Command
		if !decodeJSONHeader(h, &got) {
			return
		}
		var want Command
		require.NoError(t, json.Unmarshal(h, &want), string(h))
		require.Equal(t, want, got, string(h))
	})
}

// TestEncodeBinaryRoundTrip: a request in RocketMQ's binary header reads back the same.
func TestEncodeBinaryRoundTrip(t *testing.T) {
	c := &Command{Code: CodePullMessage, Language: "GO", Version: 317, Opaque: -5, Flag: 2, Remark: "r",
		ExtFields: map[string]string{"topic": "t", "queueId": "3", "empty": ""}, Body: []byte("body")}
	got, err := Decode(bytes.NewReader(c.EncodeBinary()))
	require.NoError(t, err)
	require.Equal(t, c, got)
	got, err = Decode(bytes.NewReader((&Command{Code: 1, Language: "GO"}).EncodeBinary()))
	require.NoError(t, err)
	require.Equal(t, &Command{Code: 1, Language: "GO", Body: []byte{}}, got)
}
