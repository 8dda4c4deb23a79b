package avro

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Values in "native" form are what goavro encodes and decodes for the physical schema (no logical types): nil,
// bool, int32, int64, float32, float64, string, []byte, []any, map[string]any (maps and records), and
// map[string]any{branch: value} for a non-null union value.

const maxDepth = 512

func valueError(path string, format string, a ...any) error {
	return schema.NewFieldError(path, schema.ErrInvalidValue, fmt.Sprintf(format, a...))
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// encodeValue converts a Connect value v of schema c into the native form of Avro schema a. c and a are usually
// FromConnect's pair; when they are not (writing with the subject's latest schema), record fields are matched by
// name and a field the Connect struct lacks takes the Avro default.
func encodeValue(a *Schema, c *schema.Schema, v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, valueError("", "value nested more than %d levels", maxDepth)
	}
	if v == nil && c != nil && c.Default != nil {
		v = c.Default
	}
	if a.Kind == Union {
		return encodeUnion(a, c, v, depth)
	}
	if v == nil {
		if a.Kind == Null {
			return nil, nil
		}
		return nil, schema.NewFieldError("", schema.ErrNullValue, fmt.Sprintf("avro %s", a.Kind))
	}
	switch a.Kind {
	case Null:
		return nil, valueError("", "avro null expects nil, got %s", typeName(v))
	case Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		switch a.LogicalType {
		case LogicalDate:
			if t, ok := v.(time.Time); ok {
				return schema.DateToDays(t)
			}
		case LogicalTimeMillis:
			if t, ok := v.(time.Time); ok {
				return schema.TimeToMillis(t)
			}
		}
		if n, ok := asInt64(v); ok && n >= math.MinInt32 && n <= math.MaxInt32 {
			return int32(n), nil
		}
	case Long:
		if t, ok := v.(time.Time); ok && a.LogicalType == LogicalTimestampMillis {
			return schema.TimestampToMillis(t), nil
		}
		if n, ok := asInt64(v); ok {
			return n, nil
		}
	case Float:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
		if n, ok := asInt64(v); ok {
			return float32(n), nil
		}
	case Double:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
		if n, ok := asInt64(v); ok {
			return float64(n), nil
		}
	case String, Enum:
		if s, ok := v.(string); ok {
			if a.Kind == Enum && !slices.Contains(a.Symbols, s) {
				return nil, valueError("", "%q is not a symbol of enum %s", s, a.FullName())
			}
			return s, nil
		}
	case Bytes, Fixed:
		return encodeBytes(a, v)
	case Array:
		if c != nil && c.Type == schema.Map {
			return encodeMapEntries(a, c, v, depth)
		}
		var elem *schema.Schema
		if c != nil {
			elem = c.ElemSchema
		}
		out := []any{}
		isArr, err := schema.RangeArray(v, func(i int, e any) error {
			n, err := encodeValue(a.Items, elem, e, depth+1)
			if err != nil {
				return schema.AtIndex(err, i)
			}
			out = append(out, n)
			return nil
		})
		if isArr {
			return out, err
		}
	case Map:
		var vs *schema.Schema
		if c != nil {
			vs = c.ValueSchema
		}
		out := map[string]any{}
		isMap, err := schema.RangeMap(v, func(k, e any) error {
			ks, ok := k.(string)
			if !ok {
				return valueError("", "avro map keys are strings, got %s", typeName(k))
			}
			n, err := encodeValue(a.Values, vs, e, depth+1)
			if err != nil {
				return schema.AtKey(err, k)
			}
			out[ks] = n
			return nil
		})
		if isMap {
			return out, err
		}
	case Record:
		if st, ok := v.(*schema.Struct); ok && st != nil {
			return encodeRecord(a, st, depth)
		}
	}
	return nil, valueError("", "avro %s cannot hold %s", a.Kind, typeName(v))
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

func encodeUnion(a *Schema, c *schema.Schema, v any, depth int) (any, error) {
	if v == nil {
		for _, b := range a.Branches {
			if b.Kind == Null {
				return nil, nil
			}
		}
		return nil, schema.NewFieldError("", schema.ErrNullValue, "avro union without null")
	}
	if st, ok := v.(*schema.Struct); ok && c != nil && c.Name == UnionName && st != nil {
		// One field per branch, exactly one set.
		for i, f := range c.Fields {
			fv := st.GetIndex(i)
			if fv == nil {
				continue
			}
			for _, b := range a.Branches {
				if b.Kind != Null && unionFieldName(a, b) == f.Name {
					n, err := encodeValue(b, f.Schema, fv, depth+1)
					if err != nil {
						return nil, schema.AtField(err, f.Name)
					}
					return map[string]any{b.branchName(): n}, nil
				}
			}
		}
		return nil, valueError("", "union struct has no field set that matches a branch")
	}
	var firstErr error
	for _, b := range a.Branches {
		if b.Kind == Null {
			continue
		}
		n, err := encodeValue(b, c, v, depth+1)
		if err == nil {
			return map[string]any{b.branchName(): n}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func encodeBytes(a *Schema, v any) (any, error) {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case schema.Decimal:
		if a.LogicalType != LogicalDecimal {
			return nil, valueError("", "avro %s without logicalType decimal cannot hold a decimal", a.Kind)
		}
		d, err := x.Rescale(int32(a.Scale))
		if err != nil {
			return nil, err
		}
		if !schema.FitsDigits(d.Unscaled, a.Precision) {
			return nil, valueError("", "decimal %s has more than %d digits", decimalText(x), a.Precision)
		}
		b = d.Bytes()
		if a.Kind == Fixed {
			if a.Size < 0 || a.Size > maxAvroInt {
				// Parse and FromConnect refuse such sizes; a Schema built by hand may still carry one.
				return nil, valueError("", "fixed %s has size %d, outside [0, %d]", a.FullName(), a.Size, maxAvroInt)
			}
			if len(b) > a.Size {
				return nil, valueError("", "decimal %s does not fit in fixed(%d)", decimalText(x), a.Size)
			}
			pad := byte(0)
			if len(b) > 0 && b[0]&0x80 != 0 {
				pad = 0xff
			}
			out := make([]byte, a.Size)
			for i := range a.Size - len(b) {
				out[i] = pad
			}
			copy(out[a.Size-len(b):], b)
			b = out
		}
	default:
		return nil, valueError("", "avro %s cannot hold %s", a.Kind, typeName(v))
	}
	if a.Kind == Fixed && len(b) != a.Size {
		return nil, valueError("", "fixed %s needs %d bytes, got %d", a.FullName(), a.Size, len(b))
	}
	return b, nil
}

// decimalText is d for an error message: its digits when short, its size otherwise (formatting a huge decimal
// costs more than the message is worth).
func decimalText(d schema.Decimal) string {
	if d.Unscaled != nil && d.Unscaled.BitLen() > 256 {
		return fmt.Sprintf("of %d bits", d.Unscaled.BitLen())
	}
	return d.String()
}

func encodeMapEntries(a *Schema, c *schema.Schema, v any, depth int) (any, error) {
	entry := a.Items
	if entry.Kind != Record || len(entry.Fields) != 2 {
		return nil, valueError("", "avro array %v cannot hold a map", entry.Kind)
	}
	out := []any{}
	isMap, err := schema.RangeMap(v, func(k, e any) error {
		kn, err := encodeValue(entry.Fields[0].Type, c.KeySchema, k, depth+1)
		if err != nil {
			return schema.AtKey(err, k)
		}
		vn, err := encodeValue(entry.Fields[1].Type, c.ValueSchema, e, depth+1)
		if err != nil {
			return schema.AtKey(err, k)
		}
		out = append(out, map[string]any{entry.Fields[0].Name: kn, entry.Fields[1].Name: vn})
		return nil
	})
	if !isMap {
		return nil, valueError("", "connect map expects a Go map, got %s", typeName(v))
	}
	return out, err
}

func encodeRecord(a *Schema, st *schema.Struct, depth int) (any, error) {
	cs := st.Schema()
	out := make(map[string]any, len(a.Fields))
	for i, f := range a.Fields {
		idx := -1
		if i < len(cs.Fields) && cs.Fields[i].Name == f.Name {
			idx = i
		} else if cf, ok := cs.Field(f.Name); ok {
			idx = cf.Index
		}
		if idx < 0 {
			if !f.HasDefault {
				return nil, schema.NewFieldError(f.Name, schema.ErrNullValue, "field missing from the struct and without an Avro default")
			}
			n, err := defaultNative(f.Type, f.Default)
			if err != nil {
				return nil, schema.AtField(err, f.Name)
			}
			out[f.Name] = n
			continue
		}
		n, err := encodeValue(f.Type, cs.Fields[idx].Schema, st.GetIndex(idx), depth+1)
		if err != nil {
			return nil, schema.AtField(err, f.Name)
		}
		out[f.Name] = n
	}
	return out, nil
}

// decodeValue converts native value v, decoded with writer schema w, into a Connect value of c, the Connect form
// of reader schema r, applying the Avro resolution rules (promotions, field matching by name and alias, defaults,
// enum defaults, union branch choice). w == r is the common case of no evolution.
func decodeValue(w, r *Schema, c *schema.Schema, v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, valueError("", "value nested more than %d levels", maxDepth)
	}
	if w.Kind == Union {
		wb, inner, err := unionBranch(w, v)
		if err != nil {
			return nil, err
		}
		return decodeValue(wb, r, c, inner, depth+1)
	}
	if r.Kind == Union {
		if w.Kind == Null {
			return nil, nil
		}
		rb := matchBranch(r, w)
		if rb == nil {
			return nil, valueError("", "no branch of the reader union reads writer type %s", describe(w))
		}
		if c != nil && c.Name == UnionName && c.Type == schema.StructType {
			return decodeUnionStruct(w, r, rb, c, v, depth)
		}
		return decodeValue(w, rb, c, v, depth+1)
	}
	if w.Kind == Null || v == nil {
		if c != nil && (c.Optional || c.Default != nil) {
			return c.Default, nil
		}
		return nil, valueError("", "null for required %s", describe(r))
	}
	switch r.Kind {
	case Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		n, ok := v.(int32)
		if !ok {
			break
		}
		switch {
		case c != nil && c.Type == schema.Int8:
			if n < math.MinInt8 || n > math.MaxInt8 {
				return nil, valueError("", "%d out of int8 range", n)
			}
			return int8(n), nil
		case c != nil && c.Type == schema.Int16:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, valueError("", "%d out of int16 range", n)
			}
			return int16(n), nil
		case c != nil && c.Name == schema.DateName:
			return schema.DaysToDate(n), nil
		case c != nil && c.Name == schema.TimeName:
			if n < 0 || n >= 24*3600_000 {
				return nil, valueError("", "time-millis %d is not a time of day", n)
			}
			return schema.MillisToTime(n), nil
		}
		return n, nil
	case Long:
		n, ok := asInt64(v)
		if !ok {
			break
		}
		if c != nil && c.Name == schema.TimestampName {
			return schema.MillisToTimestamp(n), nil
		}
		return n, nil
	case Float:
		switch x := v.(type) {
		case float32:
			return x, nil
		case int32:
			return float32(x), nil
		case int64:
			return float32(x), nil
		}
	case Double:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		}
	case String:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case Bytes, Fixed:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, valueError("", "avro %s cannot come from %s", r.Kind, typeName(v))
		}
		if c != nil && c.Name == schema.DecimalName {
			d := schema.DecimalFromBytes(b, int32(r.Scale))
			if !schema.FitsDigits(d.Unscaled, r.Precision) {
				return nil, valueError("", "decimal %s has more than %d digits", decimalText(d), r.Precision)
			}
			return d, nil
		}
		return b, nil
	case Enum:
		s, ok := v.(string)
		if !ok {
			break
		}
		if slices.Contains(r.Symbols, s) {
			return s, nil
		}
		if r.HasEnumDefault {
			return r.EnumDefault, nil
		}
		return nil, valueError("", "symbol %q is not in reader enum %s", s, r.FullName())
	case Array:
		l, ok := v.([]any)
		if !ok || w.Kind != Array {
			break
		}
		if c != nil && c.Type == schema.Map {
			return decodeMapEntries(w, r, c, l, depth)
		}
		out := make([]any, len(l))
		for i, e := range l {
			n, err := decodeValue(w.Items, r.Items, elemOf(c), e, depth+1)
			if err != nil {
				return nil, schema.AtIndex(err, i)
			}
			out[i] = n
		}
		return out, nil
	case Map:
		m, ok := v.(map[string]any)
		if !ok || w.Kind != Map {
			break
		}
		var vs *schema.Schema
		if c != nil {
			vs = c.ValueSchema
		}
		out := make(map[any]any, len(m))
		for k, e := range m {
			n, err := decodeValue(w.Values, r.Values, vs, e, depth+1)
			if err != nil {
				return nil, schema.AtKey(err, k)
			}
			out[k] = n
		}
		return out, nil
	case Record:
		m, ok := v.(map[string]any)
		if !ok || w.Kind != Record {
			break
		}
		return decodeRecord(w, r, c, m, depth)
	}
	return nil, valueError("", "avro %s cannot read %s from writer type %s", r.Kind, typeName(v), describe(w))
}

func elemOf(c *schema.Schema) *schema.Schema {
	if c == nil {
		return nil
	}
	return c.ElemSchema
}

func describe(s *Schema) string {
	if s.IsNamed() {
		return string(s.Kind) + " " + s.FullName()
	}
	return string(s.Kind)
}

// unionBranch finds the writer branch of a decoded union value: nil, or map[string]any{branch: value}.
func unionBranch(w *Schema, v any) (*Schema, any, error) {
	if v == nil {
		for _, b := range w.Branches {
			if b.Kind == Null {
				return b, nil, nil
			}
		}
		return nil, nil, valueError("", "null for a union without null")
	}
	m, ok := v.(map[string]any)
	if ok && len(m) == 1 {
		for name, inner := range m {
			for _, b := range w.Branches {
				if b.branchName() == name {
					return b, inner, nil
				}
			}
		}
	}
	return nil, nil, valueError("", "union value %s matches no branch", typeName(v))
}

// matchBranch picks the reader union branch for writer type w: the first that matches it exactly, else the first
// it can be promoted to (the Avro rule).
func matchBranch(r, w *Schema) *Schema {
	for _, b := range r.Branches {
		if sameType(b, w) {
			return b
		}
	}
	for _, b := range r.Branches {
		if promotable(w.Kind, b.Kind) || (b.IsNamed() && b.Kind == w.Kind && namesMatch(b, w)) {
			return b
		}
	}
	return nil
}

// sameType reports an exact match: the same primitive, or the same kind of named type with matching names, or
// both arrays or both maps.
func sameType(r, w *Schema) bool {
	if r.Kind != w.Kind {
		return false
	}
	if r.IsNamed() {
		return r.FullName() == w.FullName()
	}
	return true
}

func decodeUnionStruct(w, r, rb *Schema, c *schema.Schema, v any, depth int) (any, error) {
	values := make([]any, len(c.Fields))
	name := unionFieldName(r, rb)
	for i, f := range c.Fields {
		if f.Name != name {
			continue
		}
		n, err := decodeValue(w, rb, f.Schema, v, depth+1)
		if err != nil {
			return nil, schema.AtField(err, f.Name)
		}
		values[i] = n
		return schema.StructFromValues(c, values)
	}
	return nil, valueError("", "union struct has no field %q", name)
}

func decodeMapEntries(w, r *Schema, c *schema.Schema, l []any, depth int) (any, error) {
	if w.Items.Kind != Record || r.Items.Kind != Record || len(r.Items.Fields) != 2 {
		return nil, valueError("", "array of %s is not a map", w.Items.Kind)
	}
	out := make(map[any]any, len(l))
	for i, e := range l {
		st, err := decodeRecord(w.Items, r.Items, nil, e, depth+1)
		if err != nil {
			return nil, schema.AtIndex(err, i)
		}
		kv := st.([]any)
		k, err := decodeField(kv[0], c.KeySchema)
		if err != nil {
			return nil, schema.AtIndex(err, i)
		}
		if !mapKeyable(k) {
			// Connect allows such keys (Java compares them by identity); a Go map cannot hold them.
			return nil, schema.AtIndex(schema.NewFieldError("key", ErrUnsupported, fmt.Sprintf("a %s cannot be a Go map key", c.KeySchema.Type)), i)
		}
		vv, err := decodeField(kv[1], c.ValueSchema)
		if err != nil {
			return nil, schema.AtIndex(err, i)
		}
		out[k] = vv
	}
	return out, nil
}

// mapKeyable reports whether a decoded Connect value can be a Go map key: not bytes, an array or a map.
func mapKeyable(k any) bool {
	switch k.(type) {
	case []byte, []any, map[any]any, map[string]any:
		return false
	}
	return true
}

// pendingField is a record field value decoded without a Connect schema (map entries), finished by decodeField.
type pendingField struct {
	w, r *Schema
	v    any
	d    int
}

func decodeField(p any, c *schema.Schema) (any, error) {
	pf, ok := p.(pendingField)
	if !ok {
		return p, nil
	}
	return decodeValue(pf.w, pf.r, c, pf.v, pf.d)
}

// decodeRecord resolves writer record w into reader record r. With c == nil it returns the reader's field values
// as pendingField (for map entries); otherwise a *schema.Struct of c.
func decodeRecord(w, r *Schema, c *schema.Schema, v any, depth int) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, valueError("", "record value %s is not a map", typeName(v))
	}
	values := make([]any, len(r.Fields))
	for j, rf := range r.Fields {
		wf := writerField(w, r, j)
		if wf == nil {
			if !rf.HasDefault {
				return nil, schema.NewFieldError(rf.Name, ErrIncompatible, "the writer has no such field and the reader field has no default")
			}
			if c != nil {
				values[j] = c.Fields[j].Schema.Default
				continue
			}
			n, err := defaultNative(rf.Type, rf.Default)
			if err != nil {
				return nil, schema.AtField(err, rf.Name)
			}
			values[j] = pendingField{w: rf.Type, r: rf.Type, v: n, d: depth + 1}
			continue
		}
		if c == nil {
			values[j] = pendingField{w: wf.Type, r: rf.Type, v: m[wf.Name], d: depth + 1}
			continue
		}
		n, err := decodeValue(wf.Type, rf.Type, c.Fields[j].Schema, m[wf.Name], depth+1)
		if err != nil {
			return nil, schema.AtField(err, rf.Name)
		}
		values[j] = n
	}
	if c == nil {
		return values, nil
	}
	return schema.StructFromValues(c, values)
}

// writerField finds the writer field that reader field j reads: the writer field named like the reader field (at
// the same position when the schemas are the same node), else one named by one of its aliases. The name comes
// first: a writer that still has a field an alias names next to the field itself (the middle step of a rename)
// wrote the reader's field under its own name.
func writerField(w, r *Schema, j int) *Field {
	rf := r.Fields[j]
	if j < len(w.Fields) && w.Fields[j].Name == rf.Name {
		return w.Fields[j]
	}
	for _, wf := range w.Fields {
		if wf.Name == rf.Name {
			return wf
		}
	}
	for _, wf := range w.Fields {
		if slices.Contains(rf.Aliases, wf.Name) {
			return wf
		}
	}
	return nil
}
