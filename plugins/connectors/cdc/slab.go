package cdc

import (
	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Slab hands out the value slices, structs and records of many change events from a few large allocations,
// where each event would otherwise make several small ones. It never reuses memory: a piece stays valid as
// long as anything refers to it, and keeps the chunk it came from alive. A nil *Slab allocates each piece on
// its own. A Slab is not safe for concurrent use; a task keeps one for its Poll.
//
// A chunk alive keeps alive every chunk its pieces refer to. So that a task's newest chunks do not keep
// every older one alive through a chain of such references (and the task's memory grow with every change
// it streams), each kind of piece has chunks of its own and pieces refer only to kinds below their own:
// records → envelopes (a struct and its values) → row, source and key structs → leaf values → boxed
// values → decimals' unscaled values. Leaf values (Values: row images, and the source block's and key's
// values) refer to no piece of a slab but boxed values (Int64, Text, BoxDecimal) and decimals
// (ParseDecimal).
type Slab struct {
	leaf  valueChunks
	inner structChunks
	envs  []envelope
	recs  []schema.Record
	i64   box.Boxes[int64]
	strs  box.Boxes[string]
	decs  box.Boxes[schema.Decimal]
	ints  []smallInt // the unscaled values of leaf decimals: they refer to themselves only
}

// envelope is an envelope struct and its values, in one piece.
type envelope struct {
	st   schema.Struct
	vals [5]any
}

// Chunk sizes: about 16 KiB of values and 12 KiB of records, so that a record kept long after its batch
// (by a slow send, say) keeps little else alive.
const (
	slabValues  = 1024
	slabRecords = 64
	slabStructs = 256
	slabEnvs    = 128
	slabInts    = 256
)

type valueChunks []any

func (c *valueChunks) take(n int) []any {
	if n > slabValues/8 {
		return make([]any, n)
	}
	if len(*c) < n {
		*c = make([]any, slabValues)
	}
	v := (*c)[:n:n]
	*c = (*c)[n:]
	return v
}

type structChunks []schema.Struct

func (c *structChunks) take(sc *schema.Schema, values []any) (*schema.Struct, error) {
	return schema.StructAt(next((*[]schema.Struct)(c), slabStructs), sc, values)
}

// takeShared is take for a struct of head's values followed by *last (schema.StructWithLast).
func (c *structChunks) takeShared(sc *schema.Schema, head []any, last *any) (*schema.Struct, error) {
	return schema.StructWithLast(next((*[]schema.Struct)(c), slabStructs), sc, head, last)
}

// next hands out the first piece of *chunk, a fresh chunk of size zeroed pieces when it is empty. A piece
// taken and then not used (its struct failed to build) is simply not handed out again.
func next[T any](chunk *[]T, size int) *T {
	if len(*chunk) == 0 {
		*chunk = make([]T, size)
	}
	p := &(*chunk)[0]
	*chunk = (*chunk)[1:]
	return p
}

// Values returns n zeroed leaf values: values that refer to nothing from the slab (the row images' column
// values). The slice's capacity is n: appending to it never writes over another piece.
func (s *Slab) Values(n int) []any {
	if s == nil {
		return make([]any, n)
	}
	return s.leaf.take(n)
}

// innerStruct returns a struct of leaf values (a row image, a source block, a key).
func (s *Slab) innerStruct(sc *schema.Schema, values []any) (*schema.Struct, error) {
	if s == nil {
		return schema.StructFromValues(sc, values)
	}
	return s.inner.take(sc, values)
}

// sharedStruct returns a struct of leaf values: head's (shared with other structs, never written)
// followed by *last.
func (s *Slab) sharedStruct(sc *schema.Schema, head []any, last *any) (*schema.Struct, error) {
	if s == nil {
		return schema.StructWithLast(new(schema.Struct), sc, head, last)
	}
	return s.inner.takeShared(sc, head, last)
}

// envelope returns a zeroed envelope: its struct and values refer to inner structs.
func (s *Slab) envelope() *envelope {
	if s == nil {
		return new(envelope)
	}
	return next(&s.envs, slabEnvs)
}

// Record returns a zeroed record.
func (s *Slab) Record() *schema.Record {
	if s == nil {
		return new(schema.Record)
	}
	return next(&s.recs, slabRecords)
}

// smallInt returns a zeroed one-word big.Int holder.
func (s *Slab) smallInt() *smallInt {
	if s == nil {
		return new(smallInt)
	}
	return next(&s.ints, slabInts)
}

// Int64 returns n in an any, boxed in a slot of the slab (Go allocates each box otherwise).
func (s *Slab) Int64(n int64) any {
	if s == nil {
		return n
	}
	return s.i64.Box(n)
}

// Text returns v in an any, boxed in a slot of the slab; v's bytes are not copied.
func (s *Slab) Text(v string) any {
	if s == nil {
		return v
	}
	return s.strs.Box(v)
}

// BoxDecimal returns Decimal(unscaled, scale) in an any, boxed in a slot of the slab.
func (s *Slab) BoxDecimal(unscaled int64, scale int32) any {
	if s == nil {
		return s.Decimal(unscaled, scale)
	}
	return s.decs.Box(s.Decimal(unscaled, scale))
}
