package cdc

import "github.com/rmqconnect/rmqconnect/schema"

// Slab hands out the value slices and records of many change events from a few large allocations, where
// each event would otherwise make several small ones. It never reuses memory: a piece stays valid as long
// as anything refers to it (and keeps the chunk it came from alive). A nil *Slab allocates each piece on
// its own. A Slab is not safe for concurrent use; a task keeps one for its Poll.
type Slab struct {
	vals []any
	recs []schema.Record
}

// Chunk sizes: 16 KiB of values and about 12 KiB of records, so that a record kept long after its batch
// (by a slow send, say) keeps little else alive.
const (
	slabValues  = 1024
	slabRecords = 64
)

// Values returns n zeroed values. The slice's capacity is n: appending to it never writes over another
// piece.
func (s *Slab) Values(n int) []any {
	if s == nil || n > slabValues/8 {
		return make([]any, n)
	}
	if len(s.vals) < n {
		s.vals = make([]any, slabValues)
	}
	v := s.vals[:n:n]
	s.vals = s.vals[n:]
	return v
}

// Record returns a zeroed record.
func (s *Slab) Record() *schema.Record {
	if s == nil {
		return new(schema.Record)
	}
	if len(s.recs) == 0 {
		s.recs = make([]schema.Record, slabRecords)
	}
	r := &s.recs[0]
	s.recs = s.recs[1:]
	return r
}
