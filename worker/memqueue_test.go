package worker

import (
	"context"
	"sync"
)

// memQueue is a store queue in memory: offsets from 0, nothing ever deleted. The
// coordination tests run a Distributed's store logs over it, without a broker.
type memQueue struct {
	mu      sync.Mutex
	records [][]byte
}

func (q *memQueue) send(_ context.Context, _ string, body []byte) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.records = append(q.records, append([]byte(nil), body...))
	return int64(len(q.records) - 1), nil
}

func (q *memQueue) offsets(context.Context) (int64, int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return 0, int64(len(q.records)), nil
}

func (q *memQueue) maxOffset(context.Context) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(len(q.records)), nil
}

func (q *memQueue) readBelow(_ context.Context, from, below int64, max int) ([]storeRecord, int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	below = min(below, int64(len(q.records)))
	var out []storeRecord
	for off := from; off < below && len(out) < max; off++ {
		out = append(out, storeRecord{off: off, body: q.records[off]})
	}
	return out, from + int64(len(out)), nil
}

func (q *memQueue) close() {}
