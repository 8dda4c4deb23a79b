package box

import (
	"time"
	"unsafe"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Boxable are the types Boxes boxes: none of them is pointer-shaped (Go boxes those without allocating, as
// the pointer itself).
type Boxable interface {
	string | int64 | time.Time | schema.Decimal | []byte
}

// Block is how many values a block holds.
const Block = 256

// Boxes puts values of type T in interfaces from blocks of T. The zero value is ready to use; a Boxes is
// used by one goroutine.
type Boxes[T Boxable] struct {
	free []T
	typ  unsafe.Pointer // T's type word
	size int            // slots of the blocks made from now on; 0: Block
}

// Size sets how many slots the blocks made from now on hold (at least one; Block until it is called): a
// decoder that knows it boxes few values wastes no block on them.
func (b *Boxes[T]) Size(n int) { b.size = max(n, 1) }

// eface is the layout of an empty interface (runtime.eface), which reflect relies on too.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// Box returns v in an any: the interface Go makes of v, with its data in a slot of the current block.
func (b *Boxes[T]) Box(v T) any {
	if len(b.free) == 0 {
		n := b.size
		if n == 0 {
			n = Block
		}
		b.free = make([]T, n)
		if b.typ == nil {
			var zero any = b.free[0]
			b.typ = (*eface)(unsafe.Pointer(&zero)).typ
		}
	}
	p := &b.free[0]
	*p = v
	b.free = b.free[1:]
	var x any
	e := (*eface)(unsafe.Pointer(&x))
	e.typ, e.data = b.typ, unsafe.Pointer(p)
	return x
}
