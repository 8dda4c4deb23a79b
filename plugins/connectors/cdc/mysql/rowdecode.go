package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unsafe"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
)

// The row decoder reads a row event's row images straight from the event's bytes into the values
// table.decode makes of go-mysql's values, for the table published for the event's table id. It exists
// for speed: go-mysql boxes every column value into an interface (one allocation or more each) and the
// conversion then makes a second value of it, both on the binlog reader's goroutine, one of the two that
// pace the task (docs/adr/20261204-mysql-cdc-row-decoder.md).
//
// It decodes only what it knows to give exactly the library's value after the conversion: a rowPlan is
// made per table map and table, and has no columns when any column's binlog type, metadata or captured
// kind is one it does not cover (BIT, ENUM, SET, JSON, GEOMETRY, the pre-5.6 temporal types, and any
// mismatch between the binlog and the schema). Any byte it cannot read as the library would (a short
// image, a value the library would print oddly, a date the conversion would reject) makes the whole event
// go through the library and the conversion instead, which then behave exactly as without this decoder.

// errImage is a row image the decoder does not read: the library decodes the event instead.
var errImage = errors.New("row image not decoded")

// colOp is how one column's values are read.
type colOp uint8

const (
	opInt colOp = iota + 1
	opYear
	opFloat
	opDouble
	opDecimal
	opString // VARCHAR, VAR_STRING, STRING: a 1- or 2-byte length
	opBlob   // BLOB and TEXT: a 1- to 4-byte length
	opDate
	opDateTime2
	opTimestamp2
	opTime2
)

// colPlan reads one column: n is the integer width, the length's width, or the fractional digits;
// prec, scale and groups (each digit group's digit count, left to right) are a decimal's.
type colPlan struct {
	op          colOp
	n           int
	prec, scale int
	groups      []int
	c           *column
}

// rowPlan reads the row images of the events of one table map for one table; cols is nil when the
// decoder does not cover some column.
type rowPlan struct {
	tme  *replication.TableMapEvent
	tb   *table
	cols []colPlan
	// lastRows is the row count of the last event read, the first guess at the next one's.
	lastRows int
}

func newRowPlan(tme *replication.TableMapEvent, tb *table) *rowPlan {
	p := &rowPlan{tme: tme, tb: tb}
	if int(tme.ColumnCount) != len(tb.cols) || len(tme.ColumnType) != len(tb.cols) || len(tme.ColumnMeta) != len(tb.cols) {
		return p
	}
	cols := make([]colPlan, len(tb.cols))
	for i, c := range tb.cols {
		cp, ok := planColumn(tme.ColumnType[i], tme.ColumnMeta[i], c)
		if !ok {
			return p
		}
		cols[i] = cp
	}
	p.cols = cols
	return p
}

// sameColumns reports whether tme has the column count, types and metadata of the table map p was made
// for, which are all a plan is made of besides its table: p then reads tme's events as a new plan would.
func (p *rowPlan) sameColumns(tme *replication.TableMapEvent) bool {
	return tme.ColumnCount == p.tme.ColumnCount && bytes.Equal(tme.ColumnType, p.tme.ColumnType) &&
		slices.Equal(tme.ColumnMeta, p.tme.ColumnMeta)
}

// planColumn is how a column of binlog type typ with metadata meta is read for c; ok is false when the
// decoder does not cover it.
func planColumn(typ byte, meta uint16, c *column) (colPlan, bool) {
	if c.enum != nil || c.set != nil || c.charset != "" || c.binaryType != "" { // converted by valueIn
		return colPlan{}, false
	}
	p := colPlan{c: c}
	switch typ {
	case gmysql.MYSQL_TYPE_TINY, gmysql.MYSQL_TYPE_SHORT, gmysql.MYSQL_TYPE_INT24, gmysql.MYSQL_TYPE_LONG,
		gmysql.MYSQL_TYPE_LONGLONG:
		p.op, p.n = opInt, intWidth(typ)
		// The conversion reinterprets the library's signed value at the column's width.
		return p, c.width == p.n && c.kind == intKind(p.n, c.unsigned)
	case gmysql.MYSQL_TYPE_YEAR:
		p.op = opYear
		return p, c.kind == kInt32
	case gmysql.MYSQL_TYPE_FLOAT:
		p.op = opFloat
		return p, c.kind == kFloat32
	case gmysql.MYSQL_TYPE_DOUBLE:
		p.op = opDouble
		return p, c.kind == kFloat64
	case gmysql.MYSQL_TYPE_NEWDECIMAL:
		p.op, p.prec, p.scale = opDecimal, int(meta>>8), int(meta&0xff)
		p.groups = decimalGroups(p.prec-p.scale, p.scale)
		return p, c.kind == kDecimal && int32(p.scale) == c.scale && p.prec >= 1 && p.prec <= 65 && p.scale <= 30 &&
			p.scale <= p.prec
	case gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_VAR_STRING:
		p.op, p.n = opString, lengthWidth(int(meta))
		return p, c.kind == kString || c.kind == kBytes
	case gmysql.MYSQL_TYPE_STRING:
		real, max := stringMeta(meta)
		p.op, p.n = opString, lengthWidth(max)
		return p, real == gmysql.MYSQL_TYPE_STRING && (c.kind == kString || c.kind == kBytes)
	case gmysql.MYSQL_TYPE_BLOB:
		p.op, p.n = opBlob, int(meta)
		return p, meta >= 1 && meta <= 4 && (c.kind == kString || c.kind == kBytes)
	case gmysql.MYSQL_TYPE_DATE:
		p.op = opDate
		return p, c.kind == kDate
	case gmysql.MYSQL_TYPE_DATETIME2, gmysql.MYSQL_TYPE_TIMESTAMP2:
		p.op, p.n = opDateTime2, int(meta)
		if typ == gmysql.MYSQL_TYPE_TIMESTAMP2 {
			p.op = opTimestamp2
		}
		return p, meta <= 6 && c.kind == kTimestamp
	case gmysql.MYSQL_TYPE_TIME2:
		p.op, p.n = opTime2, int(meta)
		return p, meta <= 6 && c.kind == kString
	}
	return colPlan{}, false
}

func intWidth(typ byte) int {
	switch typ {
	case gmysql.MYSQL_TYPE_TINY:
		return 1
	case gmysql.MYSQL_TYPE_SHORT:
		return 2
	case gmysql.MYSQL_TYPE_INT24:
		return 3
	case gmysql.MYSQL_TYPE_LONG:
		return 4
	}
	return 8
}

// lengthWidth is the width of the length before a string value of at most max bytes.
func lengthWidth(max int) int {
	if max < 256 {
		return 1
	}
	return 2
}

// stringMeta splits a STRING column's metadata into the type it really has (ENUM and SET are logged as
// STRING) and its maximum length in bytes, which borrows two bits of the type byte above 255.
func stringMeta(meta uint16) (real byte, max int) {
	if meta < 256 {
		return gmysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(b1) | int((b0&0x30)^0x30)<<4
	}
	return b0, int(b1)
}

// rows reads the row images of an event's rows part (body, after its header), each image's columns as
// its column bitmap says (present2 is nil but for update events, whose rows are before/after pairs).
func (p *rowPlan) rows(body, present1, present2 []byte, slab *cdc.Slab) ([][]any, error) {
	per := 1
	if present2 != nil {
		per = 2
	}
	rows := make([][]any, 0, max(p.lastRows, per))
	for len(body) > 0 {
		for k := range per {
			present := present1
			if k == 1 {
				present = present2
			}
			row, n, err := p.image(body, present, slab)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, errImage // no column present: no progress
			}
			rows = append(rows, row)
			body = body[n:]
		}
	}
	p.lastRows = len(rows)
	return rows, nil
}

// image reads one row image: a null bitmap over the present columns, then each present, non-null value.
// A column the image leaves out is nil, as in the library's rows.
func (p *rowPlan) image(data, present []byte, slab *cdc.Slab) ([]any, int, error) {
	if len(present)*8 < len(p.cols) {
		return nil, 0, errImage
	}
	count := 0
	for i := range p.cols {
		if bitSet(present, i) {
			count++
		}
	}
	nullBytes := (count + 7) / 8
	if len(data) < nullBytes {
		return nil, 0, errImage
	}
	nulls, pos := data[:nullBytes], nullBytes
	vals := slab.Values(len(p.cols))
	k := 0
	for i := range p.cols {
		if !bitSet(present, i) {
			continue
		}
		k++
		if bitSet(nulls, k-1) {
			continue
		}
		v, n, err := p.cols[i].value(data[pos:], slab)
		if err != nil {
			return nil, 0, err
		}
		vals[i] = v
		pos += n
	}
	return vals, pos, nil
}

func bitSet(bitmap []byte, i int) bool { return bitmap[i>>3]&(1<<(i&7)) != 0 }

// value reads one non-null value from the start of data and returns it and its length in bytes.
func (p *colPlan) value(data []byte, slab *cdc.Slab) (any, int, error) {
	switch p.op {
	case opInt:
		return p.intValue(data, slab)
	case opYear:
		if len(data) < 1 {
			return nil, 0, errImage
		}
		if data[0] == 0 {
			return int32(0), 1, nil
		}
		return int32(data[0]) + 1900, 1, nil
	case opFloat:
		if len(data) < 4 {
			return nil, 0, errImage
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(data)), 4, nil
	case opDouble:
		if len(data) < 8 {
			return nil, 0, errImage
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(data)), 8, nil
	case opDecimal:
		return p.decimal(data, slab)
	case opString, opBlob:
		return p.bytesValue(data, slab)
	case opDate:
		return dateValue(data)
	case opDateTime2:
		return dateTime2Value(data, p.n)
	case opTimestamp2:
		return timestamp2Value(data, p.n)
	case opTime2:
		return time2Value(data, p.n)
	}
	return nil, 0, errImage
}

// intValue reads a little-endian integer of the column's width, signed or not as the column is, into the
// column's kind (wide enough for it; BIGINT UNSIGNED wraps, as the conversion does).
func (p *colPlan) intValue(data []byte, slab *cdc.Slab) (any, int, error) {
	w := p.n
	if len(data) < w {
		return nil, 0, errImage
	}
	u := littleEndian(data[:w])
	n := int64(u)
	if !p.c.unsigned && w < 8 {
		shift := 64 - 8*w
		n = int64(u<<shift) >> shift // sign-extend
	}
	switch p.c.kind {
	case kInt16:
		return int16(n), w, nil
	case kInt32:
		return int32(n), w, nil
	}
	return slab.Int64(n), w, nil
}

func littleEndian(b []byte) uint64 {
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	return u
}

func bigEndian(b []byte) uint64 {
	var u uint64
	for _, x := range b {
		u = u<<8 | uint64(x)
	}
	return u
}

// bytesValue reads a length-prefixed string or blob. A character column's string shares the event's bytes,
// as the library's does: go-mysql reads every packet into a buffer of its own and never writes to it
// after. Blobs and binary columns are copied, as the conversion copies them.
func (p *colPlan) bytesValue(data []byte, slab *cdc.Slab) (any, int, error) {
	w := p.n
	if len(data) < w {
		return nil, 0, errImage
	}
	l := littleEndian(data[:w])
	if l > uint64(len(data)-w) {
		return nil, 0, errImage
	}
	n := w + int(l)
	b := data[w:n]
	switch {
	case p.c.kind == kString && p.op == opString:
		return slab.Text(unsafe.String(unsafe.SliceData(b), len(b))), n, nil
	case p.c.kind == kString:
		return string(b), n, nil
	case p.op == opString: // the conversion's []byte(string): never nil
		return append(make([]byte, 0, len(b)), b...), n, nil
	}
	return append([]byte(nil), b...), n, nil // the conversion's copy of the library's []byte: nil when empty
}

// dig2bytes is how many bytes a decimal's group of fewer than nine digits takes.
var dig2bytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// pow10 holds 10^0 … 10^18.
var pow10 = func() (p [19]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimal reads a NEWDECIMAL: big-endian groups of nine digits in four bytes, the integer part's leftmost
// and the fraction's rightmost group shorter; the sign in the top bit, negative values inverted. Up to 18
// digits it is read as one integer; longer ones as text, through the conversion's parser.
func (p *colPlan) decimal(data []byte, slab *cdc.Slab) (any, int, error) {
	intg, frac := p.prec-p.scale, p.scale
	size := intg/9*4 + dig2bytes[intg%9] + frac/9*4 + dig2bytes[frac%9]
	if len(data) < size || size == 0 {
		return nil, 0, errImage
	}
	var buf [40]byte // one value's bytes, sign bit cleared and inversion undone
	b := buf[:size]
	copy(b, data)
	neg := b[0]&0x80 == 0
	b[0] ^= 0x80
	if neg {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	if p.prec <= 18 {
		var u uint64
		for _, g := range p.groups {
			nb := groupBytes(g)
			v := bigEndian(b[:nb])
			if v >= pow10[g] {
				return nil, 0, errImage // not a group of g digits: the library would print it as it comes
			}
			u = u*pow10[g] + v
			b = b[nb:]
		}
		n := int64(u)
		if neg {
			n = -n
		}
		return slab.BoxDecimal(n, int32(p.scale)), size, nil
	}
	text, ok := decimalText(b, p.groups, intg, neg)
	if !ok {
		return nil, 0, errImage
	}
	d, err := slab.ParseDecimal(text, int32(p.scale))
	if err != nil {
		return nil, 0, errImage
	}
	return d, size, nil
}

// decimalGroups is the digit count of each group of a decimal, left to right.
func decimalGroups(intg, frac int) []int {
	var g []int
	if intg%9 > 0 {
		g = append(g, intg%9)
	}
	for range intg / 9 {
		g = append(g, 9)
	}
	for range frac / 9 {
		g = append(g, 9)
	}
	if frac%9 > 0 {
		g = append(g, frac%9)
	}
	return g
}

func groupBytes(digits int) int {
	if digits == 9 {
		return 4
	}
	return dig2bytes[digits]
}

// decimalText is a decimal's text as the library writes it (an optional minus, the integer part without
// leading zeros or "0", then a point and every fractional digit if there are any) from its groups' bytes;
// ok is false for a group out of range.
func decimalText(b []byte, groups []int, intg int, neg bool) (string, bool) {
	out := make([]byte, 0, 3+9*len(groups))
	if neg {
		out = append(out, '-')
	}
	start, digits := len(out), 0
	for _, g := range groups {
		if digits == intg {
			out = append(trimInt(out, start), '.')
		}
		nb := groupBytes(g)
		v := bigEndian(b[:nb])
		if v >= pow10[g] {
			return "", false
		}
		b = b[nb:]
		out = appendPadded(out, int64(v), g)
		digits += g
	}
	if digits == intg {
		out = trimInt(out, start)
	}
	return string(out), true
}

// trimInt drops the leading zeros of the integer digits in out[start:], leaving "0" if all are.
func trimInt(out []byte, start int) []byte {
	i := start
	for i < len(out) && out[i] == '0' {
		i++
	}
	if i == len(out) {
		return append(out[:start], '0')
	}
	return append(out[:start], out[i:]...)
}

// dateValue reads a DATE: day, month and year in 5, 4 and 15 bits of a little-endian 3-byte integer. The
// zero date, and a date with a zero month or day, is null; another date the calendar does not have is for
// the conversion to reject.
func dateValue(data []byte) (any, int, error) {
	if len(data) < 3 {
		return nil, 0, errImage
	}
	v := int(littleEndian(data[:3]))
	if v == 0 {
		return nil, 3, nil
	}
	y, m, d := v>>9, v>>5&15, v&31
	if zeroMonthOrDay(y, m, d) {
		return nil, 3, nil
	}
	if !validDate(y, m, d) {
		return nil, 0, errImage
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), 3, nil
}

// zeroMonthOrDay reports a date with a zero month or day (which MariaDB's default sql_mode accepts): no
// calendar value, null as the zero date is.
func zeroMonthOrDay(y, m, d int) bool {
	return y <= 9999 && m <= 12 && (m == 0 || d == 0)
}

func validDate(y, m, d int) bool {
	if y > 9999 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// fraction reads the fractional seconds of a temporal value with dec digits (0–6), stored big-endian in
// (dec+1)/2 bytes, as microseconds; ok is false if data is short.
func fraction(data []byte, dec int) (usec int64, n int, ok bool) {
	n = (dec + 1) / 2
	if len(data) < n {
		return 0, 0, false
	}
	v := int64(bigEndian(data[:n]))
	switch n {
	case 1:
		v *= 10000
	case 2:
		v *= 100
	}
	return v, n, true
}

// truncNanos is usec microseconds as nanoseconds, cut to dec fractional digits, as the library's text of
// the value shows them.
func truncNanos(usec int64, dec int) int {
	unit := int64(pow10[9-dec])
	return int(usec * 1000 / unit * unit)
}

// dateTime2Value reads a DATETIME2: a big-endian 40-bit integer offset by 2^39 holding year×13+month,
// day, hour, minute and second in 17, 5, 5, 6 and 6 bits, then the fraction. The zero datetime is null.
func dateTime2Value(data []byte, dec int) (any, int, error) {
	if len(data) < 5 {
		return nil, 0, errImage
	}
	v := int64(bigEndian(data[:5])) - 0x8000000000
	usec, fn, ok := fraction(data[5:], dec)
	if !ok || usec > 999999 || v < 0 {
		return nil, 0, errImage
	}
	if v == 0 {
		return nil, 5 + fn, nil
	}
	ym, d := int(v>>22), int(v>>17&31)
	h, mi, s := int(v>>12&31), int(v>>6&63), int(v&63)
	y, m := ym/13, ym%13
	if h > 23 || mi > 59 || s > 59 {
		return nil, 0, errImage
	}
	if zeroMonthOrDay(y, m, d) { // the library's value would be another date (2024-01-00 as 2023-12-31)
		return nil, 5 + fn, nil
	}
	if !validDate(y, m, d) {
		return nil, 0, errImage
	}
	return time.Date(y, time.Month(m), d, h, mi, s, truncNanos(usec, dec), time.UTC), 5 + fn, nil
}

// timestamp2Value reads a TIMESTAMP2: big-endian seconds since the epoch in 4 bytes, then the fraction.
// Zero seconds is the zero timestamp: null.
func timestamp2Value(data []byte, dec int) (any, int, error) {
	if len(data) < 4 {
		return nil, 0, errImage
	}
	sec := int64(binary.BigEndian.Uint32(data))
	usec, fn, ok := fraction(data[4:], dec)
	if !ok || usec > 999999 {
		return nil, 0, errImage
	}
	if sec == 0 {
		return nil, 4 + fn, nil
	}
	return time.Unix(sec, int64(truncNanos(usec, dec))).UTC(), 4 + fn, nil
}

// time2Value reads a TIME2 as its text ([-]hh:mm:ss[.fraction], dec fractional digits, none when zero):
// a big-endian 24-bit integer offset by 2^23 holding hour, minute and second in 10, 6 and 6 bits, then the
// fraction, negative values (the integer below the offset) counting the fraction down from the next
// second. With 5 or 6 digits the two are one 48-bit integer offset by 2^47.
func time2Value(data []byte, dec int) (any, int, error) {
	n := 3 + (dec+1)/2
	if len(data) < n {
		return nil, 0, errImage
	}
	var v int64 // seconds part << 24 | microseconds
	switch dec {
	case 5, 6:
		v = int64(bigEndian(data[:6])) - 0x800000000000
	default:
		sec := int64(bigEndian(data[:3])) - 0x800000
		f := int64(bigEndian(data[3:n]))
		if sec < 0 && f != 0 {
			sec++
			f -= 1 << (8 * (n - 3))
		}
		switch n - 3 {
		case 1:
			f *= 10000
		case 2:
			f *= 100
		}
		v = sec<<24 + f
	}
	neg := v < 0
	if neg {
		v = -v
	}
	hms, usec := v>>24, v&(1<<24-1)
	if usec > 999999 {
		return nil, 0, errImage
	}
	out := make([]byte, 0, 18)
	if neg {
		out = append(out, '-')
	}
	out = appendPadded(out, hms>>12&1023, 2)
	out = append(out, ':')
	out = appendPadded(out, hms>>6&63, 2)
	out = append(out, ':')
	out = appendPadded(out, hms&63, 2)
	if usec != 0 { // the library's text: six digits cut to dec
		point := len(out)
		out = appendPadded(append(out, '.'), usec, 6)[:point+1+dec]
	}
	return string(out), n, nil
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v int64, width int) []byte {
	digits := 1
	for x := v; x >= 10; x /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, v, 10)
}

// rowsEventFields are the indexes of the two unexported fields of go-mysql's RowsEvent that say how its
// rows are laid out: its event type (v1, v2, partial JSON updates, MariaDB's compressed events) and whether
// it is compressed. The decoder reads only the layouts it knows; without the fields (another library
// version) it reads none.
var rowsEventFields = func() (f struct{ typ, compressed []int }) {
	t := reflect.TypeFor[replication.RowsEvent]()
	if sf, ok := t.FieldByName("eventType"); ok && sf.Type.Kind() == reflect.Uint8 {
		f.typ = sf.Index
	}
	if sf, ok := t.FieldByName("compressed"); ok && sf.Type.Kind() == reflect.Bool {
		f.compressed = sf.Index
	}
	return f
}()

// plainRows reports whether e is a write, update or delete rows event of version 1 or 2, uncompressed.
func plainRows(e *replication.RowsEvent) bool {
	if rowsEventFields.typ == nil || rowsEventFields.compressed == nil {
		return false
	}
	v := reflect.ValueOf(e).Elem()
	if v.FieldByIndex(rowsEventFields.compressed).Bool() {
		return false
	}
	switch replication.EventType(v.FieldByIndex(rowsEventFields.typ).Uint()) {
	case replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2:
		return true
	}
	return false
}
