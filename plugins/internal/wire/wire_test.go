package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/internal/box/boxtest"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

func sampleRecords(t testing.TB) []*schema.Record {
	addr := schema.StructBuilder().Name("Address").Field("city", schema.StringSchema).MustBuild()
	person := schema.StructBuilder().Name("Person").Version(2).Doc("a person").
		Field("id", schema.Int64Schema).
		Field("small", schema.Int8Schema).
		Field("mid", schema.Int16Schema).
		Field("n32", schema.Int32Schema).
		Field("f32", schema.Float32Schema).
		Field("f64", schema.Float64Schema).
		Field("ok", schema.BooleanSchema).
		Field("raw", schema.BytesSchema).
		Field("price", schema.DecimalSchema(2)).
		Field("born", schema.DateSchema()).
		Field("at", schema.TimestampSchema()).
		Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild()).
		Field("scores", schema.MapOf(schema.StringSchema, schema.Int32Schema).MustBuild()).
		Field("home", addr).
		Field("nick", schema.NewBuilder(schema.String).Optional().Default("none").MustBuild()).
		MustBuild()
	home, err := schema.NewStruct(addr).Put("city", "Hangzhou")
	require.NoError(t, err)
	v := schema.NewStruct(person).
		MustPut("id", int64(7)).MustPut("small", int8(-3)).MustPut("mid", int16(300)).MustPut("n32", int32(-70000)).
		MustPut("f32", float32(1.5)).MustPut("f64", 2.25).MustPut("ok", true).MustPut("raw", []byte{0, 1, 255}).
		MustPut("price", schema.Decimal{Unscaled: big.NewInt(-12345), Scale: 2}).
		MustPut("born", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)).
		MustPut("at", time.UnixMilli(1700000000123).UTC()).
		MustPut("tags", []any{"a", "b"}).MustPut("scores", map[any]any{"x": int32(1), "y": int32(2)}).
		MustPut("home", home)
	r1 := schema.NewRecord("t", schema.StringSchema, "k", person, v)
	r1.SourcePartition = map[string]any{"file": "a", "nested": map[string]any{"n": int64(1)}}
	r1.SourceOffset = map[string]any{"line": int64(42), "f": 0.5, "list": []any{int64(1), "x", nil, true}}
	r1.Timestamp = time.Unix(1700000000, 5).UTC()
	r1.Headers.Add("h", schema.StringSchema, "hv")
	r1.Headers.Add("h", nil, map[string]any{"x": int64(1)})
	r1.Extensions = map[string]string{"e": "1"}
	r2 := schema.NewRecord("t", nil, nil, person, nil) // a tombstone sharing the schema
	r2.QueueID, r2.QueueOffset, r2.BrokerName, r2.MsgID = 3, 99, "broker-a", "m1"
	r3 := schema.NewRecord("u", nil, []byte("k"), nil, map[string]any{"schemaless": []any{int64(1)}})
	r4 := schema.NewRecord("u", nil, nil, schema.StringSchema, "lazy") // its offset built on demand
	r4.SourcePartition, r4.LazyOffset = map[string]any{"table": "a"}, lazyOffset(7)
	return []*schema.Record{r1, r2, r3, r4}
}

type lazyOffset int64

func (o lazyOffset) Offset() map[string]any { return map[string]any{"incrementing": int64(o)} }

func TestBatchRoundTrip(t *testing.T) {
	recs := sampleRecords(t)
	b, err := EncodeBatch(recs)
	require.NoError(t, err)
	wireBytes, err := proto.Marshal(b)
	require.NoError(t, err)
	var back pb.Batch
	require.NoError(t, proto.Unmarshal(wireBytes, &back))
	got, err := DecodeBatch(&back)
	require.NoError(t, err)
	require.Len(t, got, len(recs))
	for i := range recs {
		want, have := recs[i], got[i]
		require.Equal(t, want.Topic, have.Topic)
		require.Equal(t, want.QueueID, have.QueueID)
		require.Equal(t, want.QueueOffset, have.QueueOffset)
		require.Equal(t, want.BrokerName, have.BrokerName)
		require.Equal(t, want.MsgID, have.MsgID)
		require.True(t, want.KeySchema.Equal(have.KeySchema), "record %d key schema", i)
		require.True(t, want.ValueSchema.Equal(have.ValueSchema), "record %d value schema", i)
		require.True(t, schema.Equal(want.Key, have.Key), "record %d key", i)
		require.True(t, schema.Equal(want.Value, have.Value), "record %d value: %v != %v", i, want.Value, have.Value)
		require.True(t, schema.Equal(want.SourcePartition, have.SourcePartition), "record %d partition", i)
		require.True(t, schema.Equal(want.Offset(), have.Offset()), "record %d offset", i)
		require.True(t, want.Timestamp.Equal(have.Timestamp), "record %d timestamp", i)
		require.Equal(t, want.Extensions, have.Extensions)
		require.Len(t, have.Headers, len(want.Headers))
		for j := range want.Headers {
			require.Equal(t, want.Headers[j].Key, have.Headers[j].Key)
			require.True(t, schema.Equal(want.Headers[j].Value, have.Headers[j].Value))
		}
	}
	require.Same(t, got[0].ValueSchema, got[1].ValueSchema, "a schema shared in the batch is decoded once")
	many := make([]*schema.Record, 100)
	for i := range many {
		many[i] = recs[0]
	}
	mb, err := EncodeBatch(many)
	require.NoError(t, err)
	require.Len(t, mb.Schemas, len(b.Schemas), "records sharing schemas send each schema once")
	require.NoError(t, got[0].Value.(*schema.Struct).Validate())
}

// TestOffsetsDecodedOnDemand: a decoded record keeps its source offset encoded and builds the map
// only when asked (the engine asks for one record per partition run in a batch), a new map each time.
func TestOffsetsDecodedOnDemand(t *testing.T) {
	recs := sampleRecords(t)
	b, err := EncodeBatch(recs)
	require.NoError(t, err)
	got, err := DecodeBatch(b)
	require.NoError(t, err)
	for _, i := range []int{0, 3} {
		require.Nil(t, got[i].SourceOffset, "record %d offset decoded with the batch", i)
		require.NotNil(t, got[i].LazyOffset, "record %d", i)
		first := got[i].Offset()
		require.True(t, schema.Equal(recs[i].Offset(), first), "record %d offset", i)
		first["mutated"] = true
		require.True(t, schema.Equal(recs[i].Offset(), got[i].Offset()), "record %d: each call builds a new map", i)
	}

	st := schema.NewStruct(schema.StructBuilder().Field("n", schema.Int64Schema).MustBuild()).MustPut("n", int64(1))
	withStruct := schema.NewRecord("t", nil, nil, nil, nil)
	withStruct.SourceOffset = map[string]any{"s": st}
	b, err = EncodeBatch([]*schema.Record{withStruct})
	require.NoError(t, err)
	got, err = DecodeBatch(b)
	require.NoError(t, err)
	require.NotNil(t, got[0].SourceOffset, "an offset holding a struct is decoded with its batch's schemas")
	require.True(t, schema.Equal(withStruct.SourceOffset, got[0].Offset()))

	// A record without an offset (a sink record) has none on the other side either; an empty one
	// stays empty.
	none, empty := schema.NewRecord("t", nil, nil, nil, nil), schema.NewRecord("t", nil, nil, nil, nil)
	empty.SourceOffset = map[string]any{}
	b, err = EncodeBatch([]*schema.Record{none, empty})
	require.NoError(t, err)
	got, err = DecodeBatch(b)
	require.NoError(t, err)
	require.Nil(t, got[0].LazyOffset)
	require.Nil(t, got[0].Offset())
	require.NotNil(t, got[1].Offset())
	require.Empty(t, got[1].Offset())

	bad := schema.NewRecord("t", nil, nil, nil, nil)
	bad.SourceOffset = map[string]any{"s": "x"}
	b, err = EncodeBatch([]*schema.Record{bad})
	require.NoError(t, err)
	b.Records = b.Records[:5] // cut inside the offset
	_, err = DecodeBatch(b)
	require.ErrorIs(t, err, ErrBadMessage, "a broken offset fails the batch, not a later Offset call")
}

func TestGoTypesNormalised(t *testing.T) {
	var e Encoder
	for in, want := range map[string]struct{ in, want any }{
		"int":    {7, int64(7)},
		"uint16": {uint16(9), int64(9)},
		"slice":  {[]string{"a"}, []any{"a"}},
		"map":    {map[string]int{"a": 1}, map[any]any{"a": int64(1)}},
	} {
		v, err := e.Value(want.in)
		require.NoError(t, err, in)
		got, err := NewDecoder(e.Schemas()).Value(v)
		require.NoError(t, err, in)
		require.Equal(t, want.want, got, in)
	}
	_, err := e.Value(make(chan int))
	require.ErrorContains(t, err, "cannot cross the plugin boundary")
}

func TestErrorsKeepTheirKind(t *testing.T) {
	retr := DecodeError(EncodeError(&plugins.RetriableError{Err: errors.New("busy"), Backoff: 2 * time.Second}))
	var re *plugins.RetriableError
	require.ErrorAs(t, retr, &re)
	require.Equal(t, 2*time.Second, re.Backoff)
	require.Equal(t, "retriable: busy", retr.Error())

	cfg := DecodeError(EncodeError(cfgerr.List{{Key: "a.b", Value: "x", Reason: "bad", Err: plugins.ErrInvalidValue},
		{Key: "c", Reason: "missing", Err: plugins.ErrMissingRequired}}))
	require.ErrorIs(t, cfg, cfgerr.ErrInvalid)
	require.ErrorIs(t, cfg, plugins.ErrInvalidValue)
	require.ErrorIs(t, cfg, plugins.ErrMissingRequired)
	require.Equal(t, []string{"a.b", "c"}, []string{cfgerr.Flatten(cfg)[0].Key, cfgerr.Flatten(cfg)[1].Key})

	require.ErrorIs(t, DecodeError(EncodeError(context.Canceled)), context.Canceled)
	// A timeout the task marked retriable (an HTTP client's wraps context.DeadlineExceeded)
	// stays retriable: the worker retries it as it would the task run in its own process.
	timeout := DecodeError(EncodeError(plugins.Retriable(fmt.Errorf("POST /bulk: %w", context.DeadlineExceeded))))
	require.True(t, plugins.IsRetriable(timeout), "%v", timeout)
	require.NotErrorIs(t, timeout, context.Canceled)
	require.ErrorIs(t, DecodeError(EncodeError(fmt.Errorf("read: %w", context.DeadlineExceeded))), context.Canceled)
	fatal := DecodeError(EncodeError(errors.New("boom")))
	require.False(t, plugins.IsRetriable(fatal))
	require.Equal(t, "boom", fatal.Error())
	require.Nil(t, DecodeError(EncodeError(nil)))
}

// TestConfigErrorsKeepTheirReasons: a config error crosses with each key's reason and the
// whole message as the plugin wrote them, so the validate answer and a task's trace read as
// they do for the connector built in. A reason given as Err alone (Reason empty) crossed as
// none, and what wrapped the keys' errors was dropped.
func TestConfigErrorsKeepTheirReasons(t *testing.T) {
	for _, orig := range []error{
		&cfgerr.Error{Key: "a", Err: errors.New("must be even")},
		&cfgerr.Error{Key: "a", Value: "3", Err: fmt.Errorf("%w: must be even", plugins.ErrInvalidValue)},
		fmt.Errorf("open the database: %w", &cfgerr.Error{Key: "url", Value: "x", Reason: "no host", ValueFirst: true}),
		cfgerr.List{{Key: "a", Reason: "bad"}, {Key: "b", Err: plugins.ErrMissingRequired}},
	} {
		got := DecodeError(EncodeError(orig))
		require.Equal(t, orig.Error(), got.Error())
		require.ErrorIs(t, got, cfgerr.ErrInvalid)
		want, have := cfgerr.Flatten(orig), cfgerr.Flatten(got)
		require.Len(t, have, len(want))
		for i := range want {
			require.Equal(t, want[i].Key, have[i].Key)
			require.Equal(t, want[i].Why(), have[i].Why(), "the reason of %s", want[i].Key)
		}
	}
	require.ErrorIs(t, DecodeError(EncodeError(&cfgerr.Error{Key: "a", Err: fmt.Errorf("%w: odd", plugins.ErrInvalidValue)})),
		plugins.ErrInvalidValue)
}

// TestNilRecordRefused: a nil record is refused with its index, not a panic of the encoder
// (in a plugin, a panic outside the task's code ends the process).
func TestNilRecordRefused(t *testing.T) {
	_, err := EncodeBatch([]*schema.Record{schema.NewRecord("t", nil, nil, nil, "v"), nil})
	require.ErrorContains(t, err, "record 1: nil record")
}

func TestSpecRoundTrip(t *testing.T) {
	spec := plugins.MustConfigSpec(
		plugins.Field{Name: "a", Type: plugins.TypeInt, Default: 5, Validators: []plugins.Validator{plugins.Between(1, 9)}, Doc: "d"},
		plugins.Field{Name: "b", Type: plugins.TypeList, Default: []string{"x", "y"}, Aliases: []string{"bb"}},
		plugins.Field{Name: "c", Type: plugins.TypeDuration, Default: 1500 * time.Millisecond},
		plugins.Field{Name: "d", Type: plugins.TypePassword, Required: true},
		plugins.Field{Name: "e", Type: plugins.TypeDouble, Default: 0.1},
		plugins.Field{Name: "f", Type: plugins.TypeString, Path: true, Secret: true},
		plugins.Field{Name: "g", Type: plugins.TypeDuration, Default: 1500 * time.Microsecond},
	)
	back, err := DecodeSpec(EncodeSpec(spec))
	require.NoError(t, err)
	vals, err := back.Parse(map[string]string{"d": "s"})
	require.NoError(t, err)
	require.Equal(t, 5, vals.Int("a"))
	require.Equal(t, []string{"x", "y"}, vals.List("b"))
	require.Equal(t, 1500*time.Millisecond, vals.Duration("c"))
	require.Equal(t, 1500*time.Microsecond, vals.Duration("g"), "no part of a default is rounded away")
	require.Equal(t, 0.1, vals.Double("e"))
	fs := back.Fields()
	require.Equal(t, "[1, ..., 9]", fs[0].Validators[0].String())
	require.Equal(t, []string{"bb"}, fs[1].Aliases)
	require.True(t, fs[5].Path)
	require.True(t, fs[5].Secret)
	_, err = back.Parse(map[string]string{})
	require.ErrorIs(t, err, plugins.ErrMissingRequired)
}

// FuzzDecodeBatch: whatever bytes a plugin sends, decoding returns an error or records,
// never panics.
func FuzzDecodeBatch(f *testing.F) {
	b, err := EncodeBatch(sampleRecords(f))
	require.NoError(f, err)
	seed, err := proto.Marshal(b)
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m pb.Batch
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		recs, err := DecodeBatch(&m)
		if err != nil {
			return
		}
		for _, r := range recs {
			_ = r.Offset()
		}
	})
}

// TestBatchValuesBoxedPerBatch: the strings, byte strings and times a batch decodes are, to
// anything that holds them, the values Go would have boxed itself, and a batch costs the same
// few allocations whatever its number of records (a string key and a bytes value a record
// were two allocations each before, and its headers one more).
func TestBatchValuesBoxedPerBatch(t *testing.T) {
	at, ts := time.UnixMilli(1_700_000_000_123).UTC(), schema.TimestampSchema()
	batch := func(n int) *pb.Batch {
		recs := make([]*schema.Record, n)
		for i := range recs {
			recs[i] = schema.NewRecord("t", schema.StringSchema, fmt.Sprintf("key-%d", i), schema.BytesSchema,
				[]byte(fmt.Sprintf("value-%d", i)))
			recs[i].Headers.Add("at", ts, at.Add(time.Duration(i)*time.Second))
			recs[i].Headers.Add("n", schema.StringSchema, "header")
		}
		b, err := EncodeBatch(recs)
		require.NoError(t, err)
		return b
	}
	b := batch(300)
	got, err := DecodeBatch(b)
	require.NoError(t, err)
	runtime.GC()
	for i, r := range got {
		boxtest.RequireOrdinary(t, []any{fmt.Sprintf("key-%d", i), []byte(fmt.Sprintf("value-%d", i)),
			at.Add(time.Duration(i) * time.Second)}, []any{r.Key, r.Value, r.Headers[0].Value}, i)
	}
	got[0].Headers.Add("added", schema.StringSchema, "by the task")
	require.Equal(t, "at", got[1].Headers[0].Key, "headers added to a record leave the next record's alone")
	allocs := func(b *pb.Batch) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := DecodeBatch(b); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(batch(8)), allocs(batch(200))
	require.LessOrEqual(t, large, small+2, "decoding 200 records against 8: %v allocations against %v", large, small)
}

// TestIntegersAtVarintBoundaries: integers of one encoded byte take the decoder's short path,
// longer ones the general one; both give back every value, signed and unsigned, at the edges.
func TestIntegersAtVarintBoundaries(t *testing.T) {
	edges := []int64{0, 1, -1, 63, -64, 64, -65, 127, 128, -128, 8191, -8192, 8192, math.MaxInt32, math.MinInt32,
		math.MaxInt64, math.MinInt64}
	var recs []*schema.Record
	for _, v := range edges {
		r := schema.NewRecord("t", nil, nil, nil, map[string]any{"v": v, "s": strings.Repeat("x", int(uint64(v)%300))})
		r.QueueOffset, r.QueueID = v, int(int32(v))
		recs = append(recs, r)
	}
	b, err := EncodeBatch(recs)
	require.NoError(t, err)
	got, err := DecodeBatch(b)
	require.NoError(t, err)
	require.Len(t, got, len(recs))
	for i, r := range got {
		require.Equal(t, recs[i].QueueOffset, r.QueueOffset)
		require.Equal(t, recs[i].QueueID, r.QueueID)
		require.True(t, schema.Equal(recs[i].Value, r.Value), "value %d: %v != %v", i, recs[i].Value, r.Value)
	}
}

// TestBatchStringsSurviveByteWrites: decoded strings share the batch's bytes with its byte
// values, so a task that overwrites or appends to every byte value it was handed (as it may)
// must leave every string of the batch as it was.
func TestBatchStringsSurviveByteWrites(t *testing.T) {
	recs := sampleRecords(t)
	for i := range 50 {
		r := schema.NewRecord("t", schema.StringSchema, fmt.Sprintf("key-%d", i), schema.BytesSchema,
			[]byte(fmt.Sprintf("value-%d", i)))
		r.MsgID, r.BrokerName = fmt.Sprintf("msg-%d", i), "broker-a"
		r.Headers.Add("raw", schema.BytesSchema, []byte(fmt.Sprintf("header-bytes-%d", i)))
		r.Headers.Add("text", schema.StringSchema, fmt.Sprintf("header-text-%d", i))
		r.Extensions = map[string]string{"ext": fmt.Sprintf("ext-%d", i)}
		recs = append(recs, r)
	}
	b, err := EncodeBatch(recs)
	require.NoError(t, err)
	got, err := DecodeBatch(b)
	require.NoError(t, err)

	var strs []*string
	var bytes [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			strs = append(strs, &x)
		case []byte:
			bytes = append(bytes, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				walk(k)
				walk(e)
			}
		case map[any]any:
			for k, e := range x {
				walk(k)
				walk(e)
			}
		case *schema.Struct:
			for _, f := range x.Schema().Fields {
				e, err := x.Get(f.Name)
				require.NoError(t, err)
				walk(e)
			}
		}
	}
	for _, r := range got {
		for _, s := range []string{r.Topic, r.BrokerName, r.MsgID} {
			walk(s)
		}
		walk(r.Key)
		walk(r.Value)
		for _, h := range r.Headers {
			walk(h.Key)
			walk(h.Value)
		}
		for k, v := range r.Extensions {
			walk(k)
			walk(v)
		}
	}
	require.Greater(t, len(bytes), 100)
	require.Greater(t, len(strs), 300)
	before := make([]string, len(strs))
	for i, s := range strs {
		before[i] = strings.Clone(*s)
	}
	for _, v := range bytes {
		require.Equal(t, len(v), cap(v), "a byte value ends where its bytes end")
		for i := range v {
			v[i] = 0xff
		}
		_ = append(v, "spill over into whatever follows"...)
	}
	for i, s := range strs {
		require.Equal(t, before[i], *s, "string %d", i)
	}
}

// TestBatchCountsTheBytesCanHold: the smallest record encodes to minRecordBytes, a batch of
// such records decodes, and a batch claiming more records than its bytes could hold is refused
// before its records are allocated.
func TestBatchCountsTheBytesCanHold(t *testing.T) {
	empty := make([]*schema.Record, 100)
	for i := range empty {
		empty[i] = &schema.Record{}
	}
	b, err := EncodeBatch(empty)
	require.NoError(t, err)
	require.Len(t, b.Records, 100*minRecordBytes, "an empty record is the smallest")
	recs, err := DecodeBatch(b)
	require.NoError(t, err)
	require.Len(t, recs, 100)

	b.Count++
	_, err = DecodeBatch(b)
	require.ErrorIs(t, err, ErrBadMessage)
	var grown uint64
	huge := &pb.Batch{Count: 1 << 20, Records: make([]byte, 1<<20)}
	allocated(t, &grown, func() { _, err = DecodeBatch(huge) })
	require.ErrorIs(t, err, ErrBadMessage)
	require.Less(t, grown, uint64(1<<20), "nothing is allocated for records the bytes cannot hold")
}

// TestNestedCollectionsAllocateWithTheirItems: a hundred nested arrays, each claiming nearly
// all the bytes left as its items, allocate as the items are read, not a hundred times the
// input up front (1.6 GB for this megabyte before).
func TestNestedCollectionsAllocateWithTheirItems(t *testing.T) {
	const size = 1 << 20
	rec := []byte{tNull, tNull, 0, 0, 0, 0, 0, 0} // partition, offset, topic, queue, offset, broker, id, key schema
	for range 100 {
		rec = append(rec, tArray)
		rec = binary.AppendUvarint(rec, size-1000)
	}
	rec = append(rec, bytes.Repeat([]byte{0xff}, size-len(rec))...) // no valid value tag
	var grown uint64
	var err error
	allocated(t, &grown, func() { _, err = DecodeBatch(&pb.Batch{Count: 1, Records: rec}) })
	require.ErrorIs(t, err, ErrBadMessage)
	require.Less(t, grown, uint64(16<<20), "allocated %d MiB for a %d MiB batch", grown>>20, size>>20)
}

// TestSchemaChainsBounded: schemas naming one another (each the next's element schema) are
// built up to maxNesting deep; a longer chain is refused instead of growing the stack with
// every link (two million links overflowed it and stopped the process).
func TestSchemaChainsBounded(t *testing.T) {
	chain := func(n int) []*pb.Schema {
		table := make([]*pb.Schema, n)
		for i := range table {
			table[i] = &pb.Schema{Type: "array", ElemSchema: uint32(i + 2)}
		}
		table[n-1] = &pb.Schema{Type: "int32"}
		return table
	}
	s, err := NewDecoder(chain(maxNesting)).Schema(1)
	require.NoError(t, err)
	require.Equal(t, schema.Array, s.Type)
	_, err = NewDecoder(chain(maxNesting + 1)).Schema(1)
	require.ErrorIs(t, err, ErrBadMessage)
	require.ErrorContains(t, err, "nested deeper")

	// The same chain referenced by a record's key schema.
	_, err = DecodeBatch(&pb.Batch{Count: 1, Schemas: chain(100_000),
		Records: []byte{tNull, tNull, 0, 0, 0, 0, 0, 1, tNull, 0, tNull, 0, 0, 0}})
	require.ErrorIs(t, err, ErrBadMessage)
}

// allocated sets *n to the bytes f allocated.
func allocated(t *testing.T, n *uint64, f func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	*n = after.TotalAlloc - before.TotalAlloc
}

// TestStructDefaultOfItsOwnSchema: a struct schema whose default is a struct of that same
// schema (what the Avro converter makes of a record field with a record default) crosses in a
// batch and as a value, and its default is a struct of the decoded schema; a schema that
// holds itself as a field is still refused.
func TestStructDefaultOfItsOwnSchema(t *testing.T) {
	inner := schema.StructBuilder().Name("Inner").Field("x", schema.Int32Schema).MustBuild()
	inner.Default = schema.NewStruct(inner).MustPut("x", int32(5))
	outer := schema.StructBuilder().Name("Outer").Field("in", inner).MustBuild()
	v := schema.NewStruct(outer).MustPut("in", schema.NewStruct(inner).MustPut("x", int32(7)))

	check := func(t *testing.T, got any) {
		t.Helper()
		st, ok := got.(*schema.Struct)
		require.True(t, ok, "%T", got)
		require.True(t, schema.Equal(v, st), "%v != %v", v, st)
		in := st.Schema().Fields[0].Schema
		def, ok := in.Default.(*schema.Struct)
		require.True(t, ok, "the default is a struct: %T", in.Default)
		require.Same(t, in, def.Schema(), "the default is a struct of the schema that carries it")
		x, err := def.Get("x")
		require.NoError(t, err)
		require.Equal(t, int32(5), x)
	}
	t.Run("batch", func(t *testing.T) {
		b, err := EncodeBatch([]*schema.Record{schema.NewRecord("t", nil, nil, outer, v)})
		require.NoError(t, err)
		recs, err := DecodeBatch(b)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		check(t, recs[0].Value)
	})
	t.Run("value", func(t *testing.T) {
		var e Encoder
		m, err := e.Value(v)
		require.NoError(t, err)
		got, err := NewDecoder(e.Schemas()).Value(m)
		require.NoError(t, err)
		check(t, got)
	})
	t.Run("self as field", func(t *testing.T) {
		table := []*pb.Schema{{Type: "struct", Name: "Loop", Fields: []*pb.SchemaField{{Name: "me", Schema: 1}}}}
		_, err := NewDecoder(table).Schema(1)
		require.ErrorIs(t, err, ErrBadMessage)
		require.ErrorContains(t, err, "contains itself")
	})
}
