package cdc

import (
	"math/big"

	"github.com/rmqconnect/rmqconnect/schema"
)

// pow10 holds 10^0 … 10^18, every power of ten an int64 holds.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// ParseDecimal reads a decimal's text form (as databases send it: an optional sign, digits, an optional
// point and fraction; or anything schema.ParseDecimal reads) at the given scale, as schema.ParseDecimal
// followed by Rescale(scale) does, with the same errors. Text of up to 18 digits, the common case, is
// read without the general parser's intermediate strings.
func ParseDecimal(s string, scale int32) (schema.Decimal, error) {
	return (*Slab)(nil).ParseDecimal(s, scale)
}

// ParseDecimal is the package's ParseDecimal taking the unscaled value of a decimal of up to 18 digits from
// the slab.
func (sl *Slab) ParseDecimal(s string, scale int32) (schema.Decimal, error) {
	if d, ok := parseSmallDecimal(s, scale, sl); ok {
		return d, nil
	}
	d, err := schema.ParseDecimal(s)
	if err != nil {
		return schema.Decimal{}, err
	}
	return d.Rescale(scale)
}

// parseSmallDecimal is ParseDecimal for [+-]digits[.digits] with at most 18 digits, whose value at scale
// fits an int64 exactly; ok is false for anything else, which the general path then reads (or rejects).
func parseSmallDecimal(s string, scale int32, sl *Slab) (schema.Decimal, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	digits, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits++
			if point {
				frac++
			}
		case c == '.' && !point:
			point = true
		default:
			return schema.Decimal{}, false
		}
	}
	if digits == 0 || digits > 18 || scale < 0 {
		return schema.Decimal{}, false
	}
	switch up := int(scale) - frac; {
	case up > 0:
		if digits+up > 18 {
			return schema.Decimal{}, false
		}
		n *= pow10[up]
	case up < 0:
		if -up >= len(pow10) || n%pow10[-up] != 0 {
			return schema.Decimal{}, false // digits would be lost: the general path says so
		}
		n /= pow10[-up]
	}
	if neg {
		n = -n
	}
	return sl.Decimal(n, scale), true
}

// Decimal returns unscaled × 10^-scale with its unscaled value from the slab: what ParseDecimal returns for
// the text of that value, for decoders that read a decimal's digits as a number.
func (sl *Slab) Decimal(unscaled int64, scale int32) schema.Decimal {
	abs := uint64(unscaled)
	if unscaled < 0 {
		abs = -abs
	}
	if abs > uint64(^big.Word(0)) { // more than a word holds (32-bit platforms)
		return schema.Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
	}
	// The unscaled value and its one word of digits share one allocation.
	u := sl.smallInt()
	u.w[0] = big.Word(abs)
	u.i.SetBits(u.w[:])
	if unscaled < 0 {
		u.i.Neg(&u.i)
	}
	return schema.Decimal{Unscaled: &u.i, Scale: scale}
}

// smallInt is a big.Int with room for one word.
type smallInt struct {
	i big.Int
	w [1]big.Word
}
