package jdbc

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A page is allocated for the rows a query returns, not for batch.max.rows: a huge batch.max.rows on a
// table of few new rows costs no more than a small one, and a page that fills grows as it is scanned.
func TestNewPageCapsPreallocation(t *testing.T) {
	cols := make([]colMeta, 20)
	for i := range cols {
		cols[i] = colMeta{name: "c" + strconv.Itoa(i), dbType: "INT"}
	}
	rc := &rowConv{sig: colSig(cols)}
	pg := newPage(cols, 1<<20, rc)
	require.LessOrEqual(t, cap(pg.vals), maxPagePrealloc*len(cols))
	require.LessOrEqual(t, cap(pg.pos), maxPagePrealloc)
	for range maxPagePrealloc + 1 {
		pg.addRow()
	}
	require.Equal(t, maxPagePrealloc+1, pg.len())

	small := newPage(cols, 10, rc)
	require.Equal(t, 10*len(cols), cap(small.vals), "a small limit is allocated whole")
}
