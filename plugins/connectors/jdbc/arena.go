package jdbc

import (
	"math/big"
	"math/bits"
	"time"
	"unsafe"

	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	"github.com/rmqconnect/rmqconnect/schema"
)

// arena hands out the memory of a page's values from shared blocks, one allocation per block where each
// value would otherwise make one or two of its own: the big.Ints of small decimals, the boxes that hold
// strings, int64, time.Time and Decimal values in an any, and the bytes of strings. Nothing handed out is ever
// changed or reused: a value stays valid as long as anything refers to it, and keeps its block alive (a
// few KiB at most). A nil *arena allocates each value on its own. An arena is used by one goroutine.
type arena struct {
	ints  []big.Int
	words []big.Word
	i64   box.Boxes[int64]
	times box.Boxes[time.Time]
	decs  box.Boxes[schema.Decimal]
	strs  box.Boxes[string]
	bytes []byte // the free tail of the current block of strings' bytes
}

// arenaBlock is how many values of a kind an arena allocates at once; arenaText, how many bytes of
// strings; a string longer than arenaText/8 has an allocation of its own.
const (
	arenaBlock = 256
	arenaText  = 4096
)

// bigInt returns a new big.Int holding n. Each has a word of its own, so none aliases another.
func (a *arena) bigInt(n int64) *big.Int {
	if a == nil || bits.UintSize < 64 {
		return big.NewInt(n)
	}
	if len(a.ints) == 0 {
		a.ints, a.words = make([]big.Int, arenaBlock), make([]big.Word, arenaBlock)
	}
	z, w := &a.ints[0], a.words[:1:1]
	a.ints, a.words = a.ints[1:], a.words[1:]
	if n == 0 {
		return z
	}
	u := uint64(n)
	if n < 0 {
		u = -u
	}
	w[0] = big.Word(u)
	z.SetBits(w)
	if n < 0 {
		z.Neg(z)
	}
	return z
}

// int64 returns n in an any.
func (a *arena) int64(n int64) any {
	if a == nil {
		return n
	}
	return a.i64.Box(n)
}

// time returns t in an any.
func (a *arena) time(t time.Time) any {
	if a == nil {
		return t
	}
	return a.times.Box(t)
}

// decimal returns the decimal of unscaled value n and scale in an any, its big.Int from the arena too.
func (a *arena) decimal(n int64, scale int32) any {
	if a == nil {
		return schema.NewDecimal(n, scale)
	}
	return a.decs.Box(schema.Decimal{Unscaled: a.bigInt(n), Scale: scale})
}

// text returns a string of the bytes b in an any.
func (a *arena) text(b []byte) any {
	if a == nil || len(b) > arenaText/8 {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	if len(a.bytes) < len(b) {
		a.bytes = make([]byte, arenaText)
	}
	s := a.bytes[:len(b):len(b)]
	copy(s, b)
	a.bytes = a.bytes[len(b):]
	return a.strs.Box(unsafe.String(unsafe.SliceData(s), len(s))) // s is never written again
}
