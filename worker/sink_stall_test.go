package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestQueueProgressSkipWhileBatchesInFlight: the broker answers that records of a queue
// are gone (Pulled.Moved: their commit log file was deleted, as a broker does early when its
// disk passes its forcible-clean ratio) while a batch read before them is still being put.
// Once that batch is durable the gap counts as done, so the durable (committed) offset
// moves on over the batches read after it. It stayed below the gap for good: the sink
// delivered on while storing no offset past the gap, its lag grew, and every restart read
// everything after the gap again.
func TestQueueProgressSkipWhileBatchesInFlight(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	now := time.Now()
	for _, order := range []string{"in order", "out of order"} {
		t.Run(order, func(t *testing.T) {
			p := newQueueProgress(q, 0, true)
			p.dispatched(0, now, 15, now) // batch [0, 5) being put; the queue ends at 15
			p.skipped(10)                 // the pull at 5: records 5..9 are gone, read on from 10
			p.dispatched(10, now, 15, now)
			if order == "in order" {
				p.completed(0, 0, 5)
				p.completed(0, 10, 15)
			} else {
				p.completed(0, 10, 15)
				p.completed(0, 0, 5)
			}
			off, moved := p.toCommit()
			require.True(t, moved)
			require.EqualValues(t, 15, off, "durable passes the gap once the batch before it is durable")
			records, _ := p.lag(now)
			require.Zero(t, records, "no lag is left behind the gap")
		})
	}
}

// TestQueueProgressSkipWithNothingInFlight: with no batch in flight a skip moves the durable
// offset at once, forwards (records deleted) or back (the broker's queue restarted lower).
func TestQueueProgressSkipWithNothingInFlight(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	p := newQueueProgress(q, 3, true)
	p.skipped(40)
	off, _ := p.toCommit()
	require.EqualValues(t, 40, off)
	p.skipped(7)
	off, _ = p.toCommit()
	require.EqualValues(t, 7, off)
}

// TestRecordsDeletedBeforeReadAreCountedLost: when the broker answers that records a sink had
// not read are gone, the sink reads on from the broker's next offset and counts them in
// rmqconnect_sink_record_lost_total; a move back (the queue restarted lower) loses nothing.
func TestRecordsDeletedBeforeReadAreCountedLost(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	s := &sinkRunner{log: quiet(), counters: &taskCounters{}}
	p := newQueueProgress(q, 5, true)
	next := s.readOnFrom(p, 5, rmqclient.Pulled{Moved: true, Next: 12, MinOffset: 12, MaxOffset: 20})
	require.EqualValues(t, 12, next)
	require.EqualValues(t, 7, s.counters.recordsLost.Load())
	off, _ := p.toCommit()
	require.EqualValues(t, 12, off)

	next = s.readOnFrom(p, 12, rmqclient.Pulled{Moved: true, Next: 0, MinOffset: 0, MaxOffset: 3})
	require.EqualValues(t, 0, next)
	require.EqualValues(t, 7, s.counters.recordsLost.Load(), "a move back loses nothing")
}

// TestQueueStartedAgainIsReadFromItsStart: a pull held (long polling) at the end of a queue whose
// topic was deleted and created again, answered once records reached the new queue, is told to read on
// from the new end (min 0, max 40, next 40): the sink reads from 0 instead, as the broker suggests for a
// pull that was not held, and skips none of them. It used to read on from 40. Past the end of a queue
// that lost its first records (min > 0: a broker that took over behind its master) the broker's
// suggestion stands.
func TestQueueStartedAgainIsReadFromItsStart(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	s := &sinkRunner{log: quiet(), counters: &taskCounters{}}
	p := newQueueProgress(q, 100, true)
	require.EqualValues(t, 0, s.readOnFrom(p, 100, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
	off, _ := p.toCommit()
	require.EqualValues(t, 0, off)

	p = newQueueProgress(q, 100, true)
	require.EqualValues(t, 40, s.readOnFrom(p, 100, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 8, MaxOffset: 40}))
	require.Zero(t, s.counters.recordsLost.Load())
}

// TestQueueMovedBackWhileBatchesInFlight: the broker answers that a queue restarted below the
// reader (its topic deleted and created again, read on from 0; or a replica lacking the newest
// records took over, read on from its end) while batches read before are still being put. The
// records from there on are new ones: an earlier batch at or past that offset that becomes
// durable says nothing about them, and one that straddles it counts only below it. The durable
// offset jumped to the old batch's end (110) before any new record was put, so a restart then
// read the new queue from 110 and lost 0..109; and it stayed there while the new records were
// put, as no new batch starts at 110.
func TestQueueMovedBackWhileBatchesInFlight(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	now := time.Now()
	t.Run("made again", func(t *testing.T) {
		s := &sinkRunner{log: quiet(), counters: &taskCounters{}}
		p := newQueueProgress(q, 100, true)
		old := p.dispatched(100, now, 110, now) // [100, 110) being put
		// The pull at 110: the queue holds 0..39 now.
		require.EqualValues(t, 0, s.readOnFrom(p, 110, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
		fresh := p.dispatched(0, now, 40, now)
		p.completed(old, 100, 110)
		require.EqualValues(t, 0, durable(p), "no record of the queue made again is put yet")
		p.completed(fresh, 0, 32)
		require.EqualValues(t, 32, durable(p))
		p.completed(p.dispatched(32, now, 40, now), 32, 40)
		require.EqualValues(t, 40, durable(p))
	})
	t.Run("replica behind", func(t *testing.T) {
		p := newQueueProgress(q, 100, true)
		first := p.dispatched(100, now, 120, now)  // [100, 110)
		second := p.dispatched(110, now, 120, now) // [110, 120): 115..119 are lost with the old master
		p.movedBack(115)                           // the new master ends at 115: read on from there
		fresh := p.dispatched(115, now, 130, now)
		p.completed(second, 110, 120)
		p.completed(fresh, 115, 130)
		require.EqualValues(t, 100, durable(p), "[100, 110) is still being put")
		p.completed(first, 100, 110)
		require.EqualValues(t, 130, durable(p))
	})
}

// TestLagAfterQueueMovedBack: once every record of a queue that restarted lower is durable,
// its lag is nothing; the old queue's end is no longer counted against it (it stayed until
// the new queue passed the old end, reported as records and as ever-growing seconds).
func TestLagAfterQueueMovedBack(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	old := time.Now().Add(-time.Hour)
	s := &sinkRunner{log: quiet(), counters: &taskCounters{}}
	p := newQueueProgress(q, 100, true)
	p.completed(p.dispatched(100, old, 110, old), 100, 110)
	require.EqualValues(t, 110, durable(p))
	// The topic made again: its queue holds 0..39.
	require.EqualValues(t, 0, s.readOnFrom(p, 110, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
	now := time.Now()
	p.completed(p.dispatched(0, now, 40, now), 0, 40)
	require.EqualValues(t, 40, durable(p))
	recs, secs := p.lag(time.Now())
	require.Zero(t, recs, "every record of the new queue is durable (lag %d records, %.0f s)", recs, secs)
}
