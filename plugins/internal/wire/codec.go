package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"
	"unsafe"

	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	"github.com/rmqconnect/rmqconnect/schema"
)

// The compact form of records (Batch.records). Integers are varints (signed ones zigzag),
// strings and byte slices a uvarint length then the bytes, and a value a tag byte then its
// payload. A source partition seen before in the batch (the same map) is a reference to it.
const (
	tNull byte = iota
	tFalse
	tTrue
	tInt8
	tInt16
	tInt32
	tInt64
	tFloat32
	tFloat64
	tString
	tBytes
	tArray
	tMap
	tObject
	tStruct
	tDecimal
	tTime
	tPartitionRef
)

type batchEncoder struct {
	Encoder
	buf   []byte
	parts map[uintptr]uint64 // partition map identity → its index
	// The last key and value schemas and their references: the records of a batch mostly share
	// them, and a hit costs no lookup in the schema table.
	key, val schemaMemo
}

type schemaMemo struct {
	s   *schema.Schema
	ref uint32
}

func (e *batchEncoder) uvarint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }
func (e *batchEncoder) varint(n int64)   { e.buf = binary.AppendVarint(e.buf, n) }
func (e *batchEncoder) str(s string)     { e.uvarint(uint64(len(s))); e.buf = append(e.buf, s...) }

func (e *batchEncoder) schema(s *schema.Schema) error {
	ref, err := e.SchemaRef(s)
	e.uvarint(uint64(ref))
	return err
}

// memoSchema is schema for a record's key or value schema, remembered in m.
func (e *batchEncoder) memoSchema(s *schema.Schema, m *schemaMemo) error {
	if s == nil || s != m.s {
		ref, err := e.SchemaRef(s)
		if err != nil {
			return err
		}
		m.s, m.ref = s, ref
	}
	e.uvarint(uint64(m.ref))
	return nil
}

func (e *batchEncoder) record(r *schema.Record) error {
	if r == nil {
		return fmt.Errorf("nil record")
	}
	if err := e.partition(r.SourcePartition); err != nil {
		return fmt.Errorf("source partition: %w", err)
	}
	// A record without an offset (every sink record) sends null, which decodes as no offset; a
	// nil map in an interface would be sent as an empty object and decoded as one.
	if off := r.Offset(); off == nil {
		e.buf = append(e.buf, tNull)
	} else if err := e.value(off); err != nil {
		return fmt.Errorf("source offset: %w", err)
	}
	e.str(r.Topic)
	e.varint(int64(r.QueueID))
	e.varint(r.QueueOffset)
	e.str(r.BrokerName)
	e.str(r.MsgID)
	if err := e.memoSchema(r.KeySchema, &e.key); err != nil {
		return err
	}
	if err := e.value(r.Key); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if err := e.memoSchema(r.ValueSchema, &e.val); err != nil {
		return err
	}
	if err := e.value(r.Value); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if r.Timestamp.IsZero() {
		e.buf = append(e.buf, 0)
	} else {
		e.buf = append(e.buf, 1)
		e.varint(r.Timestamp.Unix())
		e.uvarint(uint64(r.Timestamp.Nanosecond()))
	}
	e.uvarint(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		e.str(h.Key)
		if err := e.schema(h.Schema); err != nil {
			return err
		}
		if err := e.value(h.Value); err != nil {
			return fmt.Errorf("header %s: %w", h.Key, err)
		}
	}
	e.uvarint(uint64(len(r.Extensions)))
	for k, v := range r.Extensions {
		e.str(k)
		e.str(v)
	}
	return nil
}

func (e *batchEncoder) partition(p map[string]any) error {
	if p == nil {
		e.buf = append(e.buf, tNull)
		return nil
	}
	id := reflect.ValueOf(p).Pointer()
	if i, ok := e.parts[id]; ok {
		e.buf = append(e.buf, tPartitionRef)
		e.uvarint(i)
		return nil
	}
	if e.parts == nil {
		e.parts = map[uintptr]uint64{}
	}
	e.parts[id] = uint64(len(e.parts))
	return e.value(p)
}

func (e *batchEncoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, tNull)
	case bool:
		if x {
			e.buf = append(e.buf, tTrue)
		} else {
			e.buf = append(e.buf, tFalse)
		}
	case int8:
		e.buf = append(e.buf, tInt8, byte(x))
	case int16:
		e.buf = append(e.buf, tInt16)
		e.varint(int64(x))
	case int32:
		e.buf = append(e.buf, tInt32)
		e.varint(int64(x))
	case int64:
		e.buf = append(e.buf, tInt64)
		e.varint(x)
	case int:
		e.buf = append(e.buf, tInt64)
		e.varint(int64(x))
	case float32:
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, tFloat32), math.Float32bits(x))
	case float64:
		e.buf = binary.LittleEndian.AppendUint64(append(e.buf, tFloat64), math.Float64bits(x))
	case string:
		e.buf = append(e.buf, tString)
		e.str(x)
	case []byte:
		e.buf = append(e.buf, tBytes)
		e.uvarint(uint64(len(x)))
		e.buf = append(e.buf, x...)
	case time.Time:
		e.buf = append(e.buf, tTime)
		e.varint(x.Unix())
		e.uvarint(uint64(x.Nanosecond()))
	case schema.Decimal:
		e.buf = append(e.buf, tDecimal)
		e.varint(int64(x.Scale))
		var b []byte
		if x.Unscaled != nil {
			b = x.Bytes()
		}
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
	case *schema.Struct:
		if x == nil {
			e.buf = append(e.buf, tNull)
			return nil
		}
		e.buf = append(e.buf, tStruct)
		if err := e.schema(x.Schema()); err != nil {
			return err
		}
		n := len(x.Schema().Fields)
		e.uvarint(uint64(n))
		for i := range n {
			if err := e.value(x.GetIndex(i)); err != nil {
				return fmt.Errorf("field %s: %w", x.Schema().Fields[i].Name, err)
			}
		}
	case []any:
		e.buf = append(e.buf, tArray)
		e.uvarint(uint64(len(x)))
		for _, item := range x {
			if err := e.value(item); err != nil {
				return err
			}
		}
	case map[string]any:
		e.buf = append(e.buf, tObject)
		e.uvarint(uint64(len(x)))
		for k, item := range x {
			e.str(k)
			if err := e.value(item); err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
		}
	case map[any]any:
		e.buf = append(e.buf, tMap)
		e.uvarint(uint64(len(x)))
		for k, item := range x {
			if err := e.value(k); err != nil {
				return err
			}
			if err := e.value(item); err != nil {
				return err
			}
		}
	default:
		n, err := normalise(v)
		if err != nil {
			return err
		}
		return e.value(n)
	}
	return nil
}

// normalise turns the Go types the schema package accepts on input only (other integers,
// slices and maps) into canonical ones.
func normalise(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return nil, fmt.Errorf("unsigned value %d does not fit int64", rv.Uint())
		}
		return int64(rv.Uint()), nil
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return items, nil
	case reflect.Map:
		m := make(map[any]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return m, nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("value of Go type %T cannot cross the plugin boundary", v)
}

// batchDecoder reads the compact form. Byte values share the batch's buffer.
type batchDecoder struct {
	*Decoder
	buf []byte
	// shared: the strings of record fields share buf (see str); partitions and offsets
	// (private), and a decoder of a kept offset, copy theirs, as they outlive the batch.
	shared     bool
	private    bool
	offsets    []encodedOffset // the slab of the records' LazyOffsets still free
	left       int             // records not decoded yet, the size of a new slab
	parts      []map[string]any
	lastTopic  string
	lastBroker string
	// The records' headers are cut from one slab, and their strings, byte strings and times
	// boxed from blocks, the size of the batch (not those of partitions and offsets, which the
	// engine may keep after the batch): two allocations fewer a record of a string key and a
	// bytes value, one fewer a record with headers.
	hdrs  []schema.Header // the slab of the records' headers still free
	strs  box.Boxes[string]
	bytes box.Boxes[[]byte]
	times box.Boxes[time.Time]
}

// maxHeaderSlab bounds the headers of one slab: a batch whose first record has many headers
// does not allocate as many for each record after it.
const maxHeaderSlab = 4096

func (d *batchDecoder) fail(what string) error {
	return fmt.Errorf("%w: truncated or invalid %s", ErrBadMessage, what)
}

func (d *batchDecoder) uvarint(what string) (uint64, error) {
	n, k := binary.Uvarint(d.buf)
	if k <= 0 {
		return 0, d.fail(what)
	}
	d.buf = d.buf[k:]
	return n, nil
}

func (d *batchDecoder) varint(what string) (int64, error) {
	n, k := binary.Varint(d.buf)
	if k <= 0 {
		return 0, d.fail(what)
	}
	d.buf = d.buf[k:]
	return n, nil
}

func (d *batchDecoder) raw(what string) ([]byte, error) {
	n, err := d.uvarint(what)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)) {
		return nil, d.fail(what)
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b, nil
}

func (d *batchDecoder) str(what string) (string, error) {
	b, err := d.raw(what)
	if err != nil || len(b) == 0 {
		return "", err
	}
	if !d.shared || d.private {
		return string(b), nil
	}
	// The string shares the batch's bytes, which nothing writes once decoded: DecodeBatch's
	// callers own a buffer unmarshalled for the call, and the only bytes it hands out as []byte
	// are those of byte values, each capped at its own length and never holding a string's.
	return unsafe.String(&b[0], len(b)), nil
}

// interned reads a string that repeats from record to record (topic, broker name).
func (d *batchDecoder) interned(what string, last *string) (string, error) {
	b, err := d.raw(what)
	if err != nil {
		return "", err
	}
	if string(b) != *last {
		*last = string(b)
	}
	return *last, nil
}

func (d *batchDecoder) schemaRef() (*schema.Schema, error) {
	ref, err := d.uvarint("schema reference")
	if err != nil {
		return nil, err
	}
	if ref > math.MaxUint32 {
		return nil, d.fail("schema reference")
	}
	return d.Schema(uint32(ref))
}

func (d *batchDecoder) record(r *schema.Record) error {
	var err error
	if len(d.buf) > 0 && d.buf[0] == tPartitionRef {
		d.buf = d.buf[1:]
		i, err := d.uvarint("partition reference")
		if err != nil {
			return err
		}
		if i >= uint64(len(d.parts)) {
			return d.fail("partition reference")
		}
		r.SourcePartition = d.parts[i]
	} else {
		d.private = true
		r.SourcePartition, err = d.object("source partition")
		d.private = false
		if err != nil {
			return err
		}
		if r.SourcePartition != nil {
			d.parts = append(d.parts, r.SourcePartition)
		}
	}
	if err = d.sourceOffset(r); err != nil {
		return err
	}
	if r.Topic, err = d.interned("topic", &d.lastTopic); err != nil {
		return err
	}
	q, err := d.varint("queue id")
	if err != nil {
		return err
	}
	r.QueueID = int(q)
	if r.QueueOffset, err = d.varint("queue offset"); err != nil {
		return err
	}
	if r.BrokerName, err = d.interned("broker name", &d.lastBroker); err != nil {
		return err
	}
	if r.MsgID, err = d.str("message id"); err != nil {
		return err
	}
	if r.KeySchema, err = d.schemaRef(); err != nil {
		return err
	}
	if r.Key, err = d.value(0); err != nil {
		return err
	}
	if r.ValueSchema, err = d.schemaRef(); err != nil {
		return err
	}
	if r.Value, err = d.value(0); err != nil {
		return err
	}
	if len(d.buf) == 0 {
		return d.fail("timestamp")
	}
	hasTS := d.buf[0]
	d.buf = d.buf[1:]
	if hasTS == 1 {
		if r.Timestamp, err = d.time(); err != nil {
			return err
		}
	}
	nh, err := d.count("headers", 3)
	if err != nil {
		return err
	}
	if nh > 0 {
		if len(d.hdrs) < nh {
			d.hdrs = make([]schema.Header, max(nh, min(nh*d.left, maxHeaderSlab)))
		}
		// Full capacity: a task that appends to a record's headers copies them, leaving the
		// next record's alone.
		r.Headers, d.hdrs = d.hdrs[:0:nh], d.hdrs[nh:]
	}
	for range nh {
		var h schema.Header
		if h.Key, err = d.str("header key"); err != nil {
			return err
		}
		if h.Schema, err = d.schemaRef(); err != nil {
			return err
		}
		if h.Value, err = d.value(0); err != nil {
			return err
		}
		r.Headers = append(r.Headers, h)
	}
	ne, err := d.count("extensions", 2)
	if err != nil {
		return err
	}
	if ne > 0 {
		r.Extensions = make(map[string]string, min(ne, maxPrealloc))
		for range ne {
			k, err := d.str("extension key")
			if err != nil {
				return err
			}
			if r.Extensions[k], err = d.str("extension value"); err != nil {
				return err
			}
		}
	}
	return nil
}

// count reads a number of items, each at least size bytes long, so a bad count cannot make a
// decoder allocate beyond what the input could hold.
func (d *batchDecoder) count(what string, size int) (int, error) {
	n, err := d.uvarint(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.buf)/size) {
		return 0, d.fail(what)
	}
	return int(n), nil
}

// maxPrealloc bounds the items a collection value is given room for before they are read:
// each nesting level checks its count against the bytes left, not against what the levels
// around it still need, so 100 nested arrays claiming a megabyte of items each would otherwise
// be allocated at once from a megabyte of input (16 bytes an item, a hundred times over).
const maxPrealloc = 1024

func (d *batchDecoder) time() (time.Time, error) {
	sec, err := d.varint("time")
	if err != nil {
		return time.Time{}, err
	}
	nsec, err := d.uvarint("time")
	if err != nil || nsec >= 1e9 {
		return time.Time{}, d.fail("time")
	}
	return time.Unix(sec, int64(nsec)).UTC(), nil
}

func (d *batchDecoder) object(what string) (map[string]any, error) {
	v, err := d.value(0)
	if err != nil || v == nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: %T where an object was expected", ErrBadMessage, what, v)
	}
	return m, nil
}

// maxDepth bounds the nesting of a decoded value.
const maxDepth = 100

func (d *batchDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: values nested deeper than %d", ErrBadMessage, maxDepth)
	}
	if len(d.buf) == 0 {
		return nil, d.fail("value")
	}
	tag := d.buf[0]
	d.buf = d.buf[1:]
	switch tag {
	case tNull:
		return nil, nil
	case tFalse:
		return false, nil
	case tTrue:
		return true, nil
	case tInt8:
		if len(d.buf) == 0 {
			return nil, d.fail("int8")
		}
		v := int8(d.buf[0])
		d.buf = d.buf[1:]
		return v, nil
	case tInt16, tInt32, tInt64:
		n, err := d.varint("integer")
		if err != nil {
			return nil, err
		}
		switch tag {
		case tInt16:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, d.fail("int16")
			}
			return int16(n), nil
		case tInt32:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, d.fail("int32")
			}
			return int32(n), nil
		}
		return n, nil
	case tFloat32:
		if len(d.buf) < 4 {
			return nil, d.fail("float")
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(d.buf))
		d.buf = d.buf[4:]
		return v, nil
	case tFloat64:
		if len(d.buf) < 8 {
			return nil, d.fail("double")
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.buf))
		d.buf = d.buf[8:]
		return v, nil
	case tString:
		v, err := d.str("string")
		if err != nil || d.private {
			return v, err
		}
		return d.strs.Box(v), nil
	case tBytes:
		v, err := d.raw("bytes")
		if err != nil || d.private {
			return v, err
		}
		return d.bytes.Box(v), nil
	case tTime:
		v, err := d.time()
		if err != nil || d.private {
			return v, err
		}
		return d.times.Box(v), nil
	case tDecimal:
		scale, err := d.varint("decimal scale")
		if err != nil || scale < math.MinInt32 || scale > math.MaxInt32 {
			return nil, d.fail("decimal scale")
		}
		b, err := d.raw("decimal")
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return schema.Decimal{Unscaled: new(big.Int), Scale: int32(scale)}, nil
		}
		return schema.DecimalFromBytes(b, int32(scale)), nil
	case tStruct:
		s, err := d.schemaRef()
		if err != nil {
			return nil, err
		}
		n, err := d.count("struct", 1)
		if err != nil {
			return nil, err
		}
		vals := make([]any, 0, min(n, maxPrealloc))
		for range n {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		st, err := schema.StructFromValues(s, vals)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		return st, nil
	case tArray:
		n, err := d.count("array", 1)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, min(n, maxPrealloc))
		for range n {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case tObject:
		n, err := d.count("object", 2)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, min(n, maxPrealloc))
		for range n {
			k, err := d.str("object key")
			if err != nil {
				return nil, err
			}
			if out[k], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case tMap:
		n, err := d.count("map", 2)
		if err != nil {
			return nil, err
		}
		out := make(map[any]any, min(n, maxPrealloc))
		for range n {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if k != nil && !reflect.TypeOf(k).Comparable() {
				return nil, fmt.Errorf("%w: map key of type %T", ErrBadMessage, k)
			}
			if out[k], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown value tag %d", ErrBadMessage, tag)
}

// encodedOffset is a source offset kept in its encoded form (a slice of the batch's buffer) and
// decoded only when the engine asks for it: it reads one offset per run of a partition in a batch.
// skipValue checked the bytes when the batch was decoded, so decoding them again cannot fail.
// A batch's encoded offsets are one slab (batchDecoder.offsets), so a record's costs no allocation.
type encodedOffset struct{ b []byte }

func (o *encodedOffset) Offset() map[string]any {
	d := batchDecoder{buf: o.b}
	v, err := d.value(0)
	if err != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// sourceOffset reads a record's source offset. A plain object (the usual case) is checked and
// kept encoded as the record's LazyOffset; one holding structs is decoded now, as struct schemas
// are built by the batch's Decoder, which is not safe to use once DecodeBatch has returned.
func (d *batchDecoder) sourceOffset(r *schema.Record) error {
	if len(d.buf) == 0 {
		return d.fail("source offset")
	}
	switch d.buf[0] {
	case tNull:
		d.buf = d.buf[1:]
		return nil
	case tObject:
	default:
		return fmt.Errorf("%w: source offset: value tag %d where an object was expected", ErrBadMessage, d.buf[0])
	}
	start := d.buf
	structs, err := d.skipValue(0)
	if err != nil {
		return err
	}
	if structs {
		d.buf = start
		d.private = true
		r.SourceOffset, err = d.object("source offset")
		d.private = false
		return err
	}
	enc := start[: len(start)-len(d.buf) : len(start)-len(d.buf)]
	if len(d.offsets) == 0 {
		d.offsets = make([]encodedOffset, max(d.left, 1))
	}
	o := &d.offsets[0]
	d.offsets = d.offsets[1:]
	o.b = enc
	r.LazyOffset = o
	return nil
}

// skipValue checks a value as value would decode it, without building it, and says whether it
// holds a struct.
func (d *batchDecoder) skipValue(depth int) (structs bool, err error) {
	if depth > maxDepth {
		return false, fmt.Errorf("%w: values nested deeper than %d", ErrBadMessage, maxDepth)
	}
	if len(d.buf) == 0 {
		return false, d.fail("value")
	}
	tag := d.buf[0]
	switch tag {
	case tNull, tFalse, tTrue:
		d.buf = d.buf[1:]
		return false, nil
	case tInt8:
		return false, d.skipFixed(1, "int8")
	case tFloat32:
		return false, d.skipFixed(4, "float")
	case tFloat64:
		return false, d.skipFixed(8, "double")
	case tInt16, tInt32, tInt64:
		d.buf = d.buf[1:]
		n, err := d.varint("integer")
		if err == nil && (tag == tInt16 && (n < math.MinInt16 || n > math.MaxInt16) ||
			tag == tInt32 && (n < math.MinInt32 || n > math.MaxInt32)) {
			err = d.fail("integer")
		}
		return false, err
	case tString, tBytes:
		d.buf = d.buf[1:]
		_, err := d.raw("string")
		return false, err
	case tTime:
		d.buf = d.buf[1:]
		_, err := d.time()
		return false, err
	case tDecimal:
		d.buf = d.buf[1:]
		scale, err := d.varint("decimal scale")
		if err != nil || scale < math.MinInt32 || scale > math.MaxInt32 {
			return false, d.fail("decimal scale")
		}
		_, err = d.raw("decimal")
		return false, err
	case tStruct:
		_, err := d.value(depth)
		return true, err
	case tArray, tObject, tMap:
	default:
		return false, fmt.Errorf("%w: unknown value tag %d", ErrBadMessage, tag)
	}
	d.buf = d.buf[1:]
	n, err := d.count("collection", 1)
	if err != nil {
		return false, err
	}
	for range n {
		switch tag {
		case tObject:
			if _, err := d.raw("object key"); err != nil {
				return false, err
			}
		case tMap:
			if len(d.buf) > 0 {
				switch d.buf[0] {
				case tBytes, tArray, tObject, tMap:
					return false, fmt.Errorf("%w: map key with value tag %d", ErrBadMessage, d.buf[0])
				}
			}
			s, err := d.skipValue(depth + 1)
			if err != nil {
				return false, err
			}
			structs = structs || s
		}
		s, err := d.skipValue(depth + 1)
		if err != nil {
			return false, err
		}
		structs = structs || s
	}
	return structs, nil
}

// skipFixed skips a tag and its n-byte payload.
func (d *batchDecoder) skipFixed(n int, what string) error {
	if len(d.buf) < 1+n {
		return d.fail(what)
	}
	d.buf = d.buf[1+n:]
	return nil
}
