package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

// putOf is a Put request of n records of size value bytes.
func putOf(t *testing.T, n, size int) *pb.PutRequest {
	recs := make([]*schema.Record, n)
	for i := range recs {
		recs[i] = schema.NewRecord("t", schema.StringSchema, "k", schema.BytesSchema, bytes.Repeat([]byte{byte(i)}, size))
	}
	b, err := EncodeBatch(recs)
	require.NoError(t, err)
	return &pb.PutRequest{Batch: b}
}

// TestCodecWireForm: what the codec marshals is what proto.Marshal makes (a peer with gRPC's
// default codec reads it), small and pooled sizes alike, and the codec reads it back, also
// from a buffer that held a larger message before (buffers are not cleared).
func TestCodecWireForm(t *testing.T) {
	var c codec
	for _, tc := range []struct {
		name    string
		n, size int
	}{{"small", 2, 10}, {"pooled", 300, 100}, {"after a larger one", 20, 50}} {
		t.Run(tc.name, func(t *testing.T) {
			msg := putOf(t, tc.n, tc.size)
			data, err := c.Marshal(msg)
			require.NoError(t, err)
			want, err := proto.Marshal(msg)
			require.NoError(t, err)
			require.Equal(t, want, data.Materialize())

			var back pb.PutRequest
			require.NoError(t, c.Unmarshal(data, &back))
			data.Free()
			require.True(t, proto.Equal(msg, &back))
			recs, err := DecodeBatch(back.Batch)
			require.NoError(t, err)
			require.Len(t, recs, tc.n)
		})
	}
}

func TestCodecRefusesOtherValues(t *testing.T) {
	var c codec
	_, err := c.Marshal("not a message")
	require.Error(t, err)
	require.Error(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{1})}, new(int)))
}

func TestTieredPool(t *testing.T) {
	p := newTieredPool(12, 16)
	for _, tc := range []struct{ n, capacity int }{{1, 4096}, {4096, 4096}, {4097, 8192}, {65536, 65536}, {65537, 65537}} {
		b := p.Get(tc.n)
		require.Len(t, *b, tc.n)
		require.Equal(t, tc.capacity, cap(*b), "Get(%d)", tc.n)
		p.Put(b)
	}
	// A buffer of another capacity is not taken back.
	odd := make([]byte, 5000)
	p.Put(&odd)
	b := p.Get(5000)
	require.Equal(t, 8192, cap(*b))
}
