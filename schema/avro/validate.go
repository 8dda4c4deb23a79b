package avro

import (
	"errors"
	"fmt"
)

// maxZeroSizeItems bounds the items that take no bytes (null, empty records) in one datum, all arrays together:
// nothing in the input limits them otherwise, and a bound per array would let nested arrays multiply it.
const maxZeroSizeItems = 1 << 20

var errShort = errors.New("unexpected end of data")

// validate walks one binary datum of s without building values and reports whether it is well formed and fills
// data exactly. It runs before goavro decodes untrusted bytes: goavro allocates an array for the block count it
// reads before reading the items, so a six-byte message could otherwise ask for gigabytes. Here every count must
// be backed by the bytes its items need.
func validate(s *Schema, sizes map[*Schema]int, data []byte) error {
	v := validator{buf: data, minSize: sizes}
	if err := v.skip(s, 0); err != nil {
		return fmt.Errorf("%w: at byte %d: %v", ErrMalformed, len(data)-len(v.buf), err)
	}
	if len(v.buf) > 0 {
		return fmt.Errorf("%w: %d bytes after the datum", ErrMalformed, len(v.buf))
	}
	return nil
}

type validator struct {
	buf       []byte
	minSize   map[*Schema]int
	zeroItems int64 // zero-size items met so far in the datum
}

func (v *validator) long() (int64, error) {
	var u uint64
	for i := 0; i < 10; i++ {
		if len(v.buf) == 0 {
			return 0, errShort
		}
		b := v.buf[0]
		v.buf = v.buf[1:]
		u |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

func (v *validator) take(n int64) error {
	if n < 0 || n > int64(len(v.buf)) {
		return errShort
	}
	v.buf = v.buf[n:]
	return nil
}

func (v *validator) skip(s *Schema, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested more than %d levels", maxDepth)
	}
	switch s.Kind {
	case Null:
		return nil
	case Boolean:
		if len(v.buf) == 0 {
			return errShort
		}
		if v.buf[0] > 1 {
			return fmt.Errorf("boolean byte %d", v.buf[0])
		}
		v.buf = v.buf[1:]
	case Int, Long:
		n, err := v.long()
		if err != nil {
			return err
		}
		if s.Kind == Int && (n < -1<<31 || n >= 1<<31) {
			return fmt.Errorf("int %d out of range", n)
		}
	case Float:
		return v.take(4)
	case Double:
		return v.take(8)
	case Bytes, String:
		n, err := v.long()
		if err != nil {
			return err
		}
		return v.take(n)
	case Fixed:
		return v.take(int64(s.Size))
	case Enum:
		n, err := v.long()
		if err != nil {
			return err
		}
		if n < 0 || n >= int64(len(s.Symbols)) {
			return fmt.Errorf("enum index %d out of range", n)
		}
	case Union:
		n, err := v.long()
		if err != nil {
			return err
		}
		if n < 0 || n >= int64(len(s.Branches)) {
			return fmt.Errorf("union index %d out of range", n)
		}
		return v.skip(s.Branches[n], depth+1)
	case Record:
		for _, f := range s.Fields {
			if err := v.skip(f.Type, depth+1); err != nil {
				return err
			}
		}
	case Array, Map:
		return v.blocks(s, depth)
	default:
		return fmt.Errorf("unknown type %s", s.Kind)
	}
	return nil
}

func (v *validator) blocks(s *Schema, depth int) error {
	item := s.Items
	size := 0
	if s.Kind == Map {
		item, size = s.Values, 1 // the key is a string: at least its length byte
	}
	size += v.size(item)
	for {
		count, err := v.long()
		if err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if count < 0 {
			if count == -1<<63 {
				return errors.New("bad block count")
			}
			count = -count
			if _, err := v.long(); err != nil { // block size in bytes
				return err
			}
		}
		if size > 0 && count > int64(len(v.buf))/int64(size) {
			return fmt.Errorf("block of %d items is longer than the data", count)
		}
		if size == 0 {
			if count > maxZeroSizeItems-v.zeroItems {
				return fmt.Errorf("more than %d items that take no bytes", maxZeroSizeItems)
			}
			v.zeroItems += count
		}
		for range count {
			if s.Kind == Map {
				if err := v.skip(stringSchema, depth+1); err != nil {
					return err
				}
			}
			if err := v.skip(item, depth+1); err != nil {
				return err
			}
		}
	}
}

var stringSchema = &Schema{Kind: String}

// size is the fewest bytes a datum of s takes (from minSizes; 0 when unknown, the safe answer).
func (v *validator) size(s *Schema) int { return v.minSize[s] }

// minSizes computes, for every node of s, the fewest bytes a datum of it takes. The map is read-only afterwards.
func minSizes(s *Schema) map[*Schema]int {
	m := map[*Schema]int{}
	var walk func(s *Schema) int
	walk = func(s *Schema) int {
		if n, ok := m[s]; ok {
			return n
		}
		m[s] = 0 // a recursive record counts as empty while its size is computed
		n := 0
		switch s.Kind {
		case Boolean, Int, Long, Bytes, String, Enum, Union, Array, Map:
			n = 1
		case Float:
			n = 4
		case Double:
			n = 8
		case Fixed:
			n = s.Size
		}
		switch s.Kind {
		case Record:
			for _, f := range s.Fields {
				n += walk(f.Type)
			}
		case Union:
			for _, b := range s.Branches {
				walk(b)
			}
		case Array:
			walk(s.Items)
		case Map:
			walk(s.Values)
		}
		m[s] = n
		return n
	}
	walk(s)
	return m
}
