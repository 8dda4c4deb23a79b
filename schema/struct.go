package schema

import (
	"fmt"
	"strings"
)

// Struct is a value of a STRUCT schema: one slot per schema field. Put validates each value against its field's
// schema; Validate checks that every required field without a default is set.
type Struct struct {
	schema *Schema
	values []any
	// last, when not nil, holds the last field's value, and values the others (StructWithLast): structs
	// that differ only in their last field share values. Put and PutIndex give such a struct values of its
	// own before they write.
	last *any
}

// NewStruct returns an empty struct of schema s. s should be a STRUCT schema; if it is not, every Put and
// Validate fails with ErrNotStruct.
func NewStruct(s *Schema) *Struct {
	n := 0
	if s != nil && s.Type == StructType {
		n = len(s.Fields)
	}
	return &Struct{schema: s, values: make([]any, n)}
}

// StructFromValues returns a struct of schema s holding values (one per field, in field order; the slice is kept,
// not copied). The values are NOT validated: it is for decoders that build each value from its field schema, to
// whom Put's deep validation would cost O(depth²). Anyone else should use Put, or call Validate afterwards.
func StructFromValues(s *Schema, values []any) (*Struct, error) {
	if s == nil || s.Type != StructType {
		return nil, &FieldError{Reason: s.String(), Err: ErrNotStruct}
	}
	if len(values) != len(s.Fields) {
		return nil, &FieldError{Reason: fmt.Sprintf("%d values for %d fields", len(values), len(s.Fields)), Err: ErrInvalidValue}
	}
	return &Struct{schema: s, values: values}, nil
}

// StructAt is StructFromValues making the struct in *dst instead of a new allocation: for decoders that
// allocate many structs in one piece. dst must be a zero Struct that nothing else refers to.
func StructAt(dst *Struct, s *Schema, values []any) (*Struct, error) {
	if s == nil || s.Type != StructType {
		return nil, &FieldError{Reason: s.String(), Err: ErrNotStruct}
	}
	if len(values) != len(s.Fields) {
		return nil, &FieldError{Reason: fmt.Sprintf("%d values for %d fields", len(values), len(s.Fields)), Err: ErrInvalidValue}
	}
	// Field by field: dst is zero, and a composite literal would be copied in whole (through the write
	// barrier while the collector marks).
	dst.schema, dst.values = s, values
	return dst, nil
}

// StructWithLast is StructAt for a struct whose values are head's (all but the last field's, kept, not
// copied, NOT validated) followed by *last: for decoders that make many structs differing only in their
// last field (a row number), which then share head. Neither head nor *last may change afterwards; the
// struct reads and writes as any other (a Put gives it values of its own first).
func StructWithLast(dst *Struct, s *Schema, head []any, last *any) (*Struct, error) {
	if s == nil || s.Type != StructType {
		return nil, &FieldError{Reason: s.String(), Err: ErrNotStruct}
	}
	if len(head)+1 != len(s.Fields) || last == nil {
		return nil, &FieldError{Reason: fmt.Sprintf("%d values and a last one for %d fields", len(head), len(s.Fields)), Err: ErrInvalidValue}
	}
	dst.schema, dst.values, dst.last = s, head, last // field by field, as StructAt
	return dst, nil
}

// StructsFromValues returns the structs of schema s that values holds row after row (len(s.Fields) values
// each), in one allocation: structs[i] holds values[i*n:(i+1)*n] as StructFromValues would (kept, not copied,
// and NOT validated). It is for decoders that build many rows of one schema at once.
func StructsFromValues(s *Schema, values []any) ([]Struct, error) {
	if s == nil || s.Type != StructType {
		return nil, &FieldError{Reason: s.String(), Err: ErrNotStruct}
	}
	n := len(s.Fields)
	if n == 0 || len(values)%n != 0 {
		return nil, &FieldError{Reason: fmt.Sprintf("%d values for rows of %d fields", len(values), n), Err: ErrInvalidValue}
	}
	out := make([]Struct, len(values)/n)
	for i := range out {
		out[i] = Struct{schema: s, values: values[i*n : (i+1)*n : (i+1)*n]}
	}
	return out, nil
}

// Schema returns the struct's schema.
func (st *Struct) Schema() *Schema { return st.schema }

// size is how many values the struct holds.
func (st *Struct) size() int {
	if st.last != nil {
		return len(st.values) + 1
	}
	return len(st.values)
}

// at returns value i, 0 <= i < size().
func (st *Struct) at(i int) any {
	if i == len(st.values) {
		return *st.last
	}
	return st.values[i]
}

// set sets value i, 0 <= i < size(), first copying a shared head (StructWithLast) to values of its own.
func (st *Struct) set(i int, v any) {
	if st.last != nil {
		own := make([]any, len(st.values)+1)
		copy(own, st.values)
		own[len(st.values)] = *st.last
		st.values, st.last = own, nil
	}
	st.values[i] = v
}

func (st *Struct) checkStruct() error {
	if st.schema == nil || st.schema.Type != StructType {
		return &FieldError{Reason: st.schema.String(), Err: ErrNotStruct}
	}
	return nil
}

func (st *Struct) lookup(name string) (Field, error) {
	if err := st.checkStruct(); err != nil {
		return Field{}, err
	}
	f, ok := st.schema.Field(name)
	if !ok {
		return Field{}, &FieldError{Path: name, Reason: st.schema.String(), Err: ErrUnknownField}
	}
	if f.Index < 0 || f.Index >= st.size() {
		// Only a schema changed after NewStruct (or built by hand with bad indexes) gets here.
		return Field{}, &FieldError{Path: name, Reason: fmt.Sprintf("field index %d out of range", f.Index), Err: ErrInvalidSchema}
	}
	return f, nil
}

// Put sets a field after validating v against the field's schema (nil clears it). It returns st to allow
// chaining, and an error wrapping ErrUnknownField, ErrInvalidValue or ErrNullValue that names the field.
func (st *Struct) Put(name string, v any) (*Struct, error) {
	f, err := st.lookup(name)
	if err != nil {
		return st, err
	}
	if err := validateValue(f.Schema, v); err != nil {
		return st, AtField(err, name)
	}
	st.set(f.Index, v)
	return st, nil
}

// MustPut is Put that panics on error; for structs built in code.
func (st *Struct) MustPut(name string, v any) *Struct {
	if _, err := st.Put(name, v); err != nil {
		panic("schema: " + err.Error())
	}
	return st
}

// PutIndex sets the field at index i (its position in Schema().Fields) after validating v.
func (st *Struct) PutIndex(i int, v any) error {
	if err := st.checkStruct(); err != nil {
		return err
	}
	if i < 0 || i >= st.size() {
		return &FieldError{Reason: fmt.Sprintf("field index %d out of range", i), Err: ErrUnknownField}
	}
	if i >= len(st.schema.Fields) {
		return &FieldError{Reason: "struct schema changed after the struct was created", Err: ErrInvalidSchema}
	}
	f := st.schema.Fields[i]
	if err := validateValue(f.Schema, v); err != nil {
		return AtField(err, f.Name)
	}
	st.set(i, v)
	return nil
}

// Get returns a field's value, or the field's default when it is unset.
func (st *Struct) Get(name string) (any, error) {
	f, err := st.lookup(name)
	if err != nil {
		return nil, err
	}
	if v := st.at(f.Index); v != nil {
		return v, nil
	}
	return f.Schema.Default, nil
}

// GetWithoutDefault returns a field's value as set (nil when unset, even if the field has a default).
func (st *Struct) GetWithoutDefault(name string) (any, error) {
	f, err := st.lookup(name)
	if err != nil {
		return nil, err
	}
	return st.at(f.Index), nil
}

// GetIndex returns the value set at field index i (without defaulting), or nil when out of range.
func (st *Struct) GetIndex(i int) any {
	if i < 0 || i >= st.size() {
		return nil
	}
	return st.at(i)
}

// Validate checks that every field holds a valid value: required fields without a default must be set, and set
// values must match their schemas (recursively).
func (st *Struct) Validate() error {
	if err := st.checkStruct(); err != nil {
		return err
	}
	if st.size() != len(st.schema.Fields) {
		return &FieldError{Reason: "struct schema changed after the struct was created", Err: ErrInvalidSchema}
	}
	for i, f := range st.schema.Fields {
		if err := validateValue(f.Schema, st.at(i)); err != nil {
			return AtField(err, f.Name)
		}
	}
	return nil
}

// Equal reports whether both structs have the same schema (SameShape) and equal field values (see the package function Equal).
func (st *Struct) Equal(o *Struct) bool {
	if st == o {
		return true
	}
	if st == nil || o == nil {
		return false
	}
	if st.schema != o.schema && !st.schema.SameShape(o.schema) {
		return false
	}
	if st.size() != o.size() {
		return false
	}
	for i := range st.size() {
		if !Equal(st.at(i), o.at(i)) {
			return false
		}
	}
	return true
}

// Copy returns a deep copy of the values; the schema is shared.
func (st *Struct) Copy() *Struct {
	if st == nil {
		return nil
	}
	c := &Struct{schema: st.schema, values: make([]any, st.size())}
	for i := range c.values {
		c.values[i] = CopyValue(st.at(i))
	}
	return c
}

// String renders `Struct{a=1,b=x}` with unset fields left out.
func (st *Struct) String() string {
	if st == nil {
		return "Struct{<nil>}"
	}
	var b strings.Builder
	b.WriteString("Struct{")
	first := true
	for i := range st.size() {
		v := st.at(i)
		if v == nil || st.schema == nil || i >= len(st.schema.Fields) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%s=%v", st.schema.Fields[i].Name, v)
	}
	b.WriteByte('}')
	return b.String()
}
