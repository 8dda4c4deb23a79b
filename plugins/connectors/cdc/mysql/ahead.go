package mysql

import (
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
)

// ahead converts row events' rows to the captured tables' values on the binlog reader's goroutine, which
// go-mysql runs to read and parse the stream ahead of Poll, so that one task's conversion and envelope
// building run on two cores.
//
// Which schema a row event is decoded with is only known in order, on Poll's goroutine (a DDL earlier in the
// stream may change it). So the conversion ahead is a guess: it uses the table Poll last resolved for the
// event's table id (publish), and Poll uses its values only when it resolves the event to that same table
// (take), which makes them what Poll's own conversion would make (a table and its columns never change once
// built). Otherwise, or if the conversion ahead failed, Poll converts the rows itself.
type ahead struct {
	mu     sync.Mutex
	tables map[uint64]*table // by table id, as Poll last resolved them
	done   map[*replication.RowsEvent]converted

	slab cdc.Slab // the values converted ahead: used by the reader's goroutine only
}

// converted is a row event's rows converted for table tb (rows[i] for the event's Rows[i]).
type converted struct {
	tb   *table
	rows [][]any
}

func newAhead() *ahead {
	return &ahead{tables: map[uint64]*table{}, done: map[*replication.RowsEvent]converted{}}
}

// decode is go-mysql's RowsEventDecodeFunc: the library's own decoding, then the conversion ahead. It runs
// on the binlog reader's goroutine, before the event is handed to Poll.
func (a *ahead) decode(e *replication.RowsEvent, data []byte) error {
	if err := e.Decode(data); err != nil {
		return err
	}
	a.convert(e)
	return nil
}

// convert converts e's rows for the table last published for its table id, if any.
func (a *ahead) convert(e *replication.RowsEvent) {
	a.mu.Lock()
	tb := a.tables[e.TableID]
	a.mu.Unlock()
	if tb == nil || e.Table == nil || string(e.Table.Schema) != tb.db || string(e.Table.Table) != tb.name {
		return
	}
	rows := make([][]any, len(e.Rows))
	for i, row := range e.Rows {
		vals, err := tb.decode(row, &a.slab)
		if err != nil {
			return // Poll converts the rows again, and reports the error
		}
		rows[i] = vals
	}
	a.mu.Lock()
	a.done[e] = converted{tb: tb, rows: rows}
	a.mu.Unlock()
}

// publish records tb as what Poll resolved table id to.
func (a *ahead) publish(id uint64, tb *table) {
	a.mu.Lock()
	a.tables[id] = tb
	a.mu.Unlock()
}

// take returns the rows of e converted ahead for tb, or nil; Poll calls it for every row event it reads,
// which forgets what was converted for it.
func (a *ahead) take(e *replication.RowsEvent, tb *table) [][]any {
	a.mu.Lock()
	c, ok := a.done[e]
	if ok {
		delete(a.done, e)
	}
	a.mu.Unlock()
	if !ok || c.tb != tb || tb == nil {
		return nil
	}
	return c.rows
}
