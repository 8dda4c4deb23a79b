package wire

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// codec is gRPC's protobuf codec with buffers that are not cleared: the bytes on the wire are
// those of the default codec (both sides may use either), but a batch's marshalling and
// unmarshalling buffers come from dirtyPool. gRPC's default pool clears the whole capacity of a
// buffer it hands out again, and its tier above 32 KiB is 1 MiB: every Put or Poll reply of a
// few hundred records cleared 1 MiB on each side, the largest single cost of a crossing.
// Marshalling overwrites the buffer up to the message's size and unmarshalling reads only the
// bytes copied in, so stale bytes are never seen.
type codec struct{}

var _ encoding.CodecV2 = codec{}

// Name is that of gRPC's protobuf codec: the content-subtype stays "proto".
func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m := message(v)
	if m == nil {
		return nil, fmt.Errorf("marshal: %T is no protobuf message", v)
	}
	// UseCachedSize reuses what Size just computed; the message is not changed meanwhile.
	size := proto.Size(m)
	opts := proto.MarshalOptions{UseCachedSize: true}
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := dirtyPool.Get(size)
	b, err := opts.MarshalAppend((*buf)[:0], m)
	if err != nil {
		dirtyPool.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, dirtyPool)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := message(v)
	if m == nil {
		return fmt.Errorf("unmarshal: %T is no protobuf message", v)
	}
	buf := data.MaterializeToBuffer(dirtyPool)
	defer buf.Free()
	// proto.Unmarshal copies what it keeps (bytes and strings): the buffer is free after it.
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// message is v as a protobuf message of the current API (go-plugin's own services may use the
// older one), or nil.
func message(v any) proto.Message {
	switch m := v.(type) {
	case protoadapt.MessageV2:
		return m
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m)
	}
	return nil
}

// dirtyPool hands out buffers of power-of-two capacities, from 4 KiB to 64 MiB, without
// clearing them; larger ones are not pooled. Every user overwrites what it reads.
var dirtyPool = newTieredPool(12, 26)

type tieredPool struct {
	min, max uint
	tiers    []sync.Pool // tiers[i] holds buffers of capacity 1<<(min+i)
}

var _ mem.BufferPool = (*tieredPool)(nil)

func newTieredPool(minShift, maxShift uint) *tieredPool {
	return &tieredPool{min: minShift, max: maxShift, tiers: make([]sync.Pool, maxShift-minShift+1)}
}

// shift is the exponent of the smallest power of two that holds n bytes.
func shift(n int) uint {
	if n <= 1 {
		return 0
	}
	return uint(bits.Len(uint(n - 1)))
}

// Get returns a buffer of length n (its bytes are whatever an earlier user left).
func (p *tieredPool) Get(n int) *[]byte {
	s := max(shift(n), p.min)
	if s > p.max {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[s-p.min].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<s)
	return &b
}

// Put takes back a buffer Get returned; one of another capacity is left to the GC.
func (p *tieredPool) Put(b *[]byte) {
	c := cap(*b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	s := shift(c)
	if s < p.min || s > p.max {
		return
	}
	p.tiers[s-p.min].Put(b)
}
