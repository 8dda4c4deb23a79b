package mysql

import (
	"fmt"
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
// When the row decoder (rowdecode.go) covers the table's columns, the rows are read straight from the
// event's bytes into row images, which the library then never decodes; the bytes are kept until take, for
// the library to decode them on Poll's goroutine when the guess was wrong. Otherwise the library decodes
// the rows and they are converted in place: each row slice the library made becomes the row image (the
// library makes a new one per row and does not touch an event once it is handed over). The library's
// values the conversion replaced are kept aside until take, to be put back when the guess was wrong.
type ahead struct {
	mu     sync.Mutex
	tables map[uint64]*table // by table id, as Poll last resolved them
	done   map[*replication.RowsEvent]converted

	// Used by the reader's goroutine only:
	slab  cdc.Slab            // the values converted ahead
	plans map[uint64]*rowPlan // the row decoder's plan by table id, for the table map and table it was made for
}

// converted is a row event whose rows were converted for table tb (nil: the conversion failed part way):
// in place, with the library's values it replaced, or by the row decoder from data, the event's bytes
// with its rows from pos.
type converted struct {
	tb       *table
	replaced []replacedValue
	data     []byte
	pos      int
	// lib and libPos are the bytes and rows' start of an event the library decoded, for the row decoder to
	// read on Poll's goroutine once the table is known: the library's values are not always the row's
	// (a DATETIME with a zero day or month comes as another date).
	lib    []byte
	libPos int
}

// replacedValue is the library's value of column col of Rows[row], before the conversion.
type replacedValue struct {
	row, col int32
	raw      any
}

func newAhead() *ahead {
	return &ahead{tables: map[uint64]*table{}, done: map[*replication.RowsEvent]converted{}, plans: map[uint64]*rowPlan{}}
}

// decode is go-mysql's RowsEventDecodeFunc: the library decodes the event's header, then the row decoder
// its rows, or else the library its rows and the conversion ahead their values. It runs on the binlog
// reader's goroutine, before the event is handed to Poll.
func (a *ahead) decode(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if a.own(e, data, pos) {
		return nil
	}
	if err := e.DecodeData(pos, data); err != nil {
		return err
	}
	a.convert(e)
	if plainRows(e) {
		a.mu.Lock()
		c := a.done[e]
		c.lib, c.libPos = data, pos
		a.done[e] = c
		a.mu.Unlock()
	}
	return nil
}

// guess is the table last published for e's table id, if it is still the table e's table map names.
func (a *ahead) guess(e *replication.RowsEvent) *table {
	a.mu.Lock()
	tb := a.tables[e.TableID]
	a.mu.Unlock()
	if tb == nil || e.Table == nil || string(e.Table.Schema) != tb.db || string(e.Table.Table) != tb.name {
		return nil
	}
	return tb
}

// own reads the rows of e, whose header the library decoded from data up to pos, with the row decoder for
// the guessed table, if it covers them; false leaves e.Rows as they were.
func (a *ahead) own(e *replication.RowsEvent, data []byte, pos int) bool {
	tb := a.guess(e)
	if tb == nil || !plainRows(e) {
		return false
	}
	p := a.plans[e.TableID]
	switch {
	case p != nil && p.tb == tb && p.tme != e.Table && p.sameColumns(e.Table):
		p.tme = e.Table // each transaction has its own table map: the same plan reads it
	case p == nil || p.tme != e.Table || p.tb != tb:
		np := newRowPlan(e.Table, tb)
		if p != nil {
			np.lastRows = p.lastRows
		}
		p = np
		a.plans[e.TableID] = p
	}
	if p.cols == nil || e.ColumnCount != uint64(len(p.cols)) {
		return false
	}
	var present2 []byte
	if e.Type() == replication.EnumRowsEventTypeUpdate {
		present2 = e.ColumnBitmap2
	}
	rows, err := p.rows(data[pos:], e.ColumnBitmap1, present2, &a.slab)
	if err != nil {
		return false
	}
	e.Rows = rows
	a.mu.Lock()
	a.done[e] = converted{tb: tb, data: data, pos: pos}
	a.mu.Unlock()
	return true
}

// convert converts e's rows in place for the table last published for its table id, if any.
func (a *ahead) convert(e *replication.RowsEvent) {
	tb := a.guess(e)
	if tb == nil {
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

// take reports whether e's rows were converted ahead for tb, or read now by the row decoder for tb from the
// bytes the library decoded them from, which makes e.Rows tb's row images. Otherwise e.Rows holds the
// library's values: put back if a conversion ahead replaced them, decoded by the library now if the row
// decoder read them. Poll calls it for every row event it reads, which forgets what was
// converted for it.
func (a *ahead) take(e *replication.RowsEvent, tb *table, slab *cdc.Slab) (bool, error) {
	a.mu.Lock()
	c, ok := a.done[e]
	if ok {
		delete(a.done, e)
	}
	a.mu.Unlock()
	if !ok {
		return false, nil
	}
	if c.tb != nil && c.tb == tb {
		return true, nil
	}
	if c.data != nil {
		// DecodeData reads only the event and its table map; the header (DecodeHeader) would read the
		// library's table maps, which the reader's goroutine writes.
		if err := e.DecodeData(c.pos, c.data); err != nil {
			return false, fmt.Errorf("decode row event of table id %d: %w", e.TableID, err)
		}
		return false, nil
	}
	for _, r := range c.replaced {
		e.Rows[r.row][r.col] = r.raw
	}
	if c.lib != nil && tb != nil {
		if p := newRowPlan(e.Table, tb); p.cols != nil && e.ColumnCount == uint64(len(p.cols)) {
			var present2 []byte
			if e.Type() == replication.EnumRowsEventTypeUpdate {
				present2 = e.ColumnBitmap2
			}
			if rows, err := p.rows(c.lib[c.libPos:], e.ColumnBitmap1, present2, slab); err == nil {
				e.Rows = rows
				return true, nil
			}
		}
	}
	return false, nil
}
