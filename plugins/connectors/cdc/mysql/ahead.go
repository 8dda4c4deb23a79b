package mysql

import (
	"slices"
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
// built). Otherwise, or if the conversion ahead failed, take puts the library's values back and Poll
// converts the rows itself.
//
// The rows are converted in place: each row slice the library made becomes the row image (the library
// makes a new one per row and does not touch an event once it is handed over). The library's values the
// conversion replaced are kept aside until take, to be put back when the guess was wrong.
type ahead struct {
	mu     sync.Mutex
	tables map[uint64]*table // by table id, as Poll last resolved them
	done   map[*replication.RowsEvent]converted

	slab cdc.Slab // the values converted ahead: used by the reader's goroutine only
}

// converted is a row event whose rows were converted in place for table tb (nil: the conversion failed part
// way), and the library's values it replaced.
type converted struct {
	tb       *table
	replaced []replacedValue
}

// replacedValue is the library's value of column col of Rows[row], before the conversion.
type replacedValue struct {
	row, col int32
	raw      any
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

// convert converts e's rows in place for the table last published for its table id, if any.
func (a *ahead) convert(e *replication.RowsEvent) {
	a.mu.Lock()
	tb := a.tables[e.TableID]
	a.mu.Unlock()
	if tb == nil || e.Table == nil || string(e.Table.Schema) != tb.db || string(e.Table.Table) != tb.name {
		return
	}
	c := converted{tb: tb}
	for i, row := range e.Rows {
		if len(row) != len(tb.cols) {
			c.tb = nil // Poll reports it
			break
		}
		for j, raw := range row {
			v, err := tb.cols[j].valueIn(raw, &a.slab)
			if err != nil {
				c.tb = nil // Poll converts the rows again, and reports the error
				break
			}
			if !unchanged(raw, v) {
				c.replaced = append(c.replaced, replacedValue{row: int32(i), col: int32(j), raw: raw})
				row[j] = v
			}
		}
		if c.tb == nil {
			break
		}
		if i == 0 && len(c.replaced) > 0 { // rows of one table mostly replace the same columns
			c.replaced = slices.Grow(c.replaced, (len(e.Rows)-1)*len(c.replaced))
		}
	}
	a.mu.Lock()
	a.done[e] = c
	a.mu.Unlock()
}

// unchanged reports whether a conversion returned its input as it came (a comparable value equal to it), so
// that it need not be kept aside.
func unchanged(raw, v any) bool {
	switch raw.(type) {
	case string, int64, int32, int16, int8, float64, float32:
		return v == raw // raw's type is comparable: no panic
	}
	return false
}

// publish records tb as what Poll resolved table id to.
func (a *ahead) publish(id uint64, tb *table) {
	a.mu.Lock()
	a.tables[id] = tb
	a.mu.Unlock()
}

// take reports whether e's rows were converted ahead for tb, which makes e.Rows tb's row images. Otherwise
// e.Rows holds the library's values, put back if a conversion ahead replaced them. Poll calls it for every
// row event it reads, which forgets what was converted for it.
func (a *ahead) take(e *replication.RowsEvent, tb *table) bool {
	a.mu.Lock()
	c, ok := a.done[e]
	if ok {
		delete(a.done, e)
	}
	a.mu.Unlock()
	if !ok {
		return false
	}
	if c.tb != nil && c.tb == tb {
		return true
	}
	for _, r := range c.replaced {
		e.Rows[r.row][r.col] = r.raw
	}
	return false
}
