package wire

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"time"

	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/schema"
)

// ErrBadMessage is wrapped by every error decoding a protocol message that breaks the
// protocol (a dangling schema reference, an unknown type).
var ErrBadMessage = errors.New("malformed plugin protocol message")

// Encoder turns records and values into messages, collecting each schema they use once.
type Encoder struct {
	schemas []*pb.Schema
	index   map[*schema.Schema]uint32
}

// Schemas returns the schema table to send with what was encoded.
func (e *Encoder) Schemas() []*pb.Schema { return e.schemas }

// SchemaRef returns the 1-based reference of s in the table (0 for nil), adding it.
func (e *Encoder) SchemaRef(s *schema.Schema) (uint32, error) {
	if s == nil {
		return 0, nil
	}
	if ref, ok := e.index[s]; ok {
		return ref, nil
	}
	if e.index == nil {
		e.index = map[*schema.Schema]uint32{}
	}
	m := &pb.Schema{Type: string(s.Type), Optional: s.Optional, Name: s.Name, Version: int32(s.Version), Doc: s.Doc,
		Parameters: s.Parameters}
	e.schemas = append(e.schemas, m)
	ref := uint32(len(e.schemas))
	e.index[s] = ref
	var err error
	for _, f := range s.Fields {
		fr, ferr := e.SchemaRef(f.Schema)
		if ferr != nil {
			return 0, ferr
		}
		m.Fields = append(m.Fields, &pb.SchemaField{Name: f.Name, Schema: fr})
	}
	if m.KeySchema, err = e.SchemaRef(s.KeySchema); err != nil {
		return 0, err
	}
	if m.ValueSchema, err = e.SchemaRef(s.ValueSchema); err != nil {
		return 0, err
	}
	if m.ElemSchema, err = e.SchemaRef(s.ElemSchema); err != nil {
		return 0, err
	}
	if s.Default != nil {
		if m.Default, err = e.Value(s.Default); err != nil {
			return 0, fmt.Errorf("default of schema %s: %w", s.Name, err)
		}
		m.HasDefault = true
	}
	return ref, nil
}

// Value encodes a Connect value (see the schema package for the Go types).
func (e *Encoder) Value(v any) (*pb.Value, error) {
	switch x := v.(type) {
	case nil:
		return &pb.Value{Kind: &pb.Value_Null{Null: true}}, nil
	case bool:
		return &pb.Value{Kind: &pb.Value_Bool{Bool: x}}, nil
	case int8:
		return &pb.Value{Kind: &pb.Value_Int8{Int8: int32(x)}}, nil
	case int16:
		return &pb.Value{Kind: &pb.Value_Int16{Int16: int32(x)}}, nil
	case int32:
		return &pb.Value{Kind: &pb.Value_Int32{Int32: x}}, nil
	case int64:
		return &pb.Value{Kind: &pb.Value_Int64{Int64: x}}, nil
	case int:
		return &pb.Value{Kind: &pb.Value_Int64{Int64: int64(x)}}, nil
	case float32:
		return &pb.Value{Kind: &pb.Value_Float32{Float32: x}}, nil
	case float64:
		return &pb.Value{Kind: &pb.Value_Float64{Float64: x}}, nil
	case string:
		return &pb.Value{Kind: &pb.Value_String_{String_: x}}, nil
	case []byte:
		return &pb.Value{Kind: &pb.Value_Bytes{Bytes: x}}, nil
	case time.Time:
		return &pb.Value{Kind: &pb.Value_Time{Time: timeValue(x)}}, nil
	case schema.Decimal:
		d := &pb.DecimalValue{Scale: x.Scale}
		if x.Unscaled != nil {
			d.Unscaled = x.Bytes()
		}
		return &pb.Value{Kind: &pb.Value_Decimal{Decimal: d}}, nil
	case *schema.Struct:
		if x == nil {
			return &pb.Value{Kind: &pb.Value_Null{Null: true}}, nil
		}
		ref, err := e.SchemaRef(x.Schema())
		if err != nil {
			return nil, err
		}
		n := len(x.Schema().Fields)
		sv := &pb.StructValue{Schema: ref, Values: make([]*pb.Value, n)}
		for i := range n {
			if sv.Values[i], err = e.Value(x.GetIndex(i)); err != nil {
				return nil, fmt.Errorf("field %s: %w", x.Schema().Fields[i].Name, err)
			}
		}
		return &pb.Value{Kind: &pb.Value_Struct{Struct: sv}}, nil
	case []any:
		l := &pb.ValueList{Items: make([]*pb.Value, len(x))}
		for i, item := range x {
			var err error
			if l.Items[i], err = e.Value(item); err != nil {
				return nil, err
			}
		}
		return &pb.Value{Kind: &pb.Value_Array{Array: l}}, nil
	case map[string]any:
		o := &pb.ObjectValue{Fields: make(map[string]*pb.Value, len(x))}
		for k, item := range x {
			var err error
			if o.Fields[k], err = e.Value(item); err != nil {
				return nil, fmt.Errorf("key %s: %w", k, err)
			}
		}
		return &pb.Value{Kind: &pb.Value_Object{Object: o}}, nil
	case map[any]any:
		m := &pb.MapValue{Keys: make([]*pb.Value, 0, len(x)), Values: make([]*pb.Value, 0, len(x))}
		for k, item := range x {
			kv, err := e.Value(k)
			if err != nil {
				return nil, err
			}
			vv, err := e.Value(item)
			if err != nil {
				return nil, err
			}
			m.Keys, m.Values = append(m.Keys, kv), append(m.Values, vv)
		}
		return &pb.Value{Kind: &pb.Value_Map{Map: m}}, nil
	}
	return e.reflectValue(v)
}

// reflectValue encodes the Go types the schema package accepts on input only: other
// integers, slices and maps.
func (e *Encoder) reflectValue(v any) (*pb.Value, error) {
	n, err := normalise(v)
	if err != nil {
		return nil, err
	}
	return e.Value(n)
}

func timeValue(t time.Time) *pb.TimeValue {
	return &pb.TimeValue{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

func fromTimeValue(t *pb.TimeValue) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(t.Seconds, int64(t.Nanos)).UTC()
}

// Decoder turns messages back into values, using a schema table.
type Decoder struct {
	table []*pb.Schema
	built []*schema.Schema
	state []uint8 // 0 not built, 1 building, 2 built
	depth int     // schemas and values being built, each inside the one before
}

// maxNesting bounds how deep schemas and values are built one inside another. A schema's
// fields, key, value and element schemas are references into the table, so a table of a
// million schemas each naming the next would otherwise be built a million calls deep and
// overflow the goroutine's stack, which stops the whole process.
const maxNesting = 2 * maxDepth

// enter counts one more level of nesting, or refuses it.
func (d *Decoder) enter(what string) error {
	if d.depth >= maxNesting {
		return fmt.Errorf("%w: %s nested deeper than %d", ErrBadMessage, what, maxNesting)
	}
	d.depth++
	return nil
}

// NewDecoder returns a decoder for values that reference the schemas of table.
func NewDecoder(table []*pb.Schema) *Decoder {
	return &Decoder{table: table, built: make([]*schema.Schema, len(table)), state: make([]uint8, len(table))}
}

// Schema returns the schema of a reference (nil for 0).
func (d *Decoder) Schema(ref uint32) (*schema.Schema, error) {
	if ref == 0 {
		return nil, nil
	}
	i := int(ref) - 1
	if i >= len(d.table) {
		return nil, fmt.Errorf("%w: schema reference %d of %d", ErrBadMessage, ref, len(d.table))
	}
	switch d.state[i] {
	case 2:
		return d.built[i], nil
	case 1:
		return nil, fmt.Errorf("%w: schema %d contains itself", ErrBadMessage, ref)
	}
	if err := d.enter("schemas"); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.state[i] = 1
	m := d.table[i]
	t, err := schema.ParseType(m.Type)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	s := &schema.Schema{Type: t, Optional: m.Optional, Name: m.Name, Version: int(m.Version), Doc: m.Doc}
	if len(m.Parameters) > 0 {
		s.Parameters = m.Parameters
	}
	for idx, f := range m.Fields {
		fs, err := d.Schema(f.Schema)
		if err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, schema.Field{Name: f.Name, Index: idx, Schema: fs})
	}
	if s.KeySchema, err = d.Schema(m.KeySchema); err != nil {
		return nil, err
	}
	if s.ValueSchema, err = d.Schema(m.ValueSchema); err != nil {
		return nil, err
	}
	if s.ElemSchema, err = d.Schema(m.ElemSchema); err != nil {
		return nil, err
	}
	// The schema is whole without its default, and a default may be a struct of this very
	// schema (an Avro record field whose default is a record): it is built before its
	// default is decoded. A schema that holds itself as a field, key, value or element
	// schema was refused above, while it was being built.
	d.built[i], d.state[i] = s, 2
	if m.HasDefault {
		if s.Default, err = d.Value(m.Default); err != nil {
			return nil, err // the message is refused whole: nothing uses the schema left built
		}
	}
	return s, nil
}

// Value decodes a value.
func (d *Decoder) Value(v *pb.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	if err := d.enter("values"); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	switch k := v.Kind.(type) {
	case nil, *pb.Value_Null:
		return nil, nil
	case *pb.Value_Bool:
		return k.Bool, nil
	case *pb.Value_Int8:
		return int8(k.Int8), nil
	case *pb.Value_Int16:
		return int16(k.Int16), nil
	case *pb.Value_Int32:
		return k.Int32, nil
	case *pb.Value_Int64:
		return k.Int64, nil
	case *pb.Value_Float32:
		return k.Float32, nil
	case *pb.Value_Float64:
		return k.Float64, nil
	case *pb.Value_String_:
		return k.String_, nil
	case *pb.Value_Bytes:
		if k.Bytes == nil {
			return []byte{}, nil
		}
		return k.Bytes, nil
	case *pb.Value_Time:
		return fromTimeValue(k.Time), nil
	case *pb.Value_Decimal:
		if k.Decimal.Unscaled == nil {
			return schema.Decimal{Unscaled: new(big.Int), Scale: k.Decimal.Scale}, nil
		}
		return schema.DecimalFromBytes(k.Decimal.Unscaled, k.Decimal.Scale), nil
	case *pb.Value_Struct:
		s, err := d.Schema(k.Struct.Schema)
		if err != nil {
			return nil, err
		}
		vals := make([]any, len(k.Struct.Values))
		for i, item := range k.Struct.Values {
			if vals[i], err = d.Value(item); err != nil {
				return nil, err
			}
		}
		st, err := schema.StructFromValues(s, vals)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		return st, nil
	case *pb.Value_Array:
		out := make([]any, len(k.Array.Items))
		for i, item := range k.Array.Items {
			var err error
			if out[i], err = d.Value(item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *pb.Value_Object:
		out := make(map[string]any, len(k.Object.Fields))
		for key, item := range k.Object.Fields {
			var err error
			if out[key], err = d.Value(item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *pb.Value_Map:
		if len(k.Map.Keys) != len(k.Map.Values) {
			return nil, fmt.Errorf("%w: map with %d keys and %d values", ErrBadMessage, len(k.Map.Keys), len(k.Map.Values))
		}
		out := make(map[any]any, len(k.Map.Keys))
		for i := range k.Map.Keys {
			key, err := d.Value(k.Map.Keys[i])
			if err != nil {
				return nil, err
			}
			if key != nil && !reflect.TypeOf(key).Comparable() {
				return nil, fmt.Errorf("%w: map key of type %T", ErrBadMessage, key)
			}
			if out[key], err = d.Value(k.Map.Values[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown value kind %T", ErrBadMessage, v.Kind)
}
