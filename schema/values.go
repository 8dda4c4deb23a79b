package schema

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"time"
)

// Equal compares two Connect values deeply: []byte by content, *Struct with Struct.Equal, Decimal with
// Decimal.Equal, time.Time with time.Time.Equal, NaN equal to NaN, slices and maps element by element; anything
// else with reflect.DeepEqual.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *Struct:
		y, ok := b.(*Struct)
		return ok && x.Equal(y)
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Equal(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case float32:
		y, ok := b.(float32)
		return ok && (x == y || x != x && y != y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, found := y[k]
			if found {
				if !Equal(v, w) {
					return false
				}
				continue
			}
			// Keys compared by pointer (*Struct, Decimal) may be equal in value only.
			if !hasEqualEntry(y, k, v) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, found := y[k]
			if !found || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func hasEqualEntry(m map[any]any, k, v any) bool {
	for k2, v2 := range m {
		if Equal(k, k2) && Equal(v, v2) {
			return true
		}
	}
	return false
}

// CopyValue returns a deep copy of a Connect value: byte slices, slices, maps, structs and decimals are copied;
// immutable values (numbers, strings, time.Time) are returned as they are. Schemas are shared, not copied.
func CopyValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if x == nil {
			return x
		}
		return bytes.Clone(x)
	case *Struct:
		return x.Copy()
	case Decimal:
		if x.Unscaled == nil {
			return x
		}
		return Decimal{Unscaled: new(big.Int).Set(x.Unscaled), Scale: x.Scale}
	case []any:
		if x == nil {
			return x
		}
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = CopyValue(e)
		}
		return c
	case map[any]any:
		if x == nil {
			return x
		}
		c := make(map[any]any, len(x))
		for k, e := range x {
			c[k] = CopyValue(e)
		}
		return c
	case map[string]any:
		if x == nil {
			return x
		}
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = CopyValue(e)
		}
		return c
	case map[string]string:
		if x == nil {
			return x
		}
		c := make(map[string]string, len(x))
		for k, e := range x {
			c[k] = e
		}
		return c
	}
	return v
}
