package mysql_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// Text in character sets other than UTF-8 streams as the same string the snapshot gives (the snapshot's
// connection has the server convert it; the binlog holds the column's own bytes), whether the table was
// captured by the snapshot or created, altered and given columns while streaming.
func TestNonUTF8TextStreamsAsSnapshot(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET latin1, x TEXT CHARACTER SET latin1, c CHAR(5) CHARACTER SET latin1,
		u VARCHAR(5) CHARACTER SET ucs2, s VARCHAR(5) CHARACTER SET utf16, w VARCHAR(5) CHARACTER SET cp1251, g VARCHAR(5) CHARACTER SET gbk, d VARCHAR(5)) DEFAULT CHARSET = latin1`,
		`INSERT INTO t VALUES (1, 'café', 'naïve €', 'é', 'é€', 'é😀', 'жук', '中文', 'ü')`)
	task := h.start()
	snap := h.poll(task, 1, true)
	h.exec(`INSERT INTO t VALUES (2, 'café', 'naïve €', 'é', 'é€', 'é😀', 'жук', '中文', 'ü')`,
		`ALTER TABLE t ADD e VARCHAR(5), ADD f VARCHAR(5) CHARACTER SET utf32`,
		`INSERT INTO t VALUES (3, 'café', 'naïve €', 'é', 'é€', 'é😀', 'жук', '中文', 'ü', 'ß', 'ø😀')`,
		`CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(5)) CHARACTER SET cp1251`, `INSERT INTO t2 VALUES (1, 'жук')`)
	str := h.poll(task, 3, true)
	a := afterOf(snap[0])
	for _, r := range str[:2] {
		b := afterOf(r)
		for _, f := range []string{"v", "x", "c", "u", "s", "w", "g", "d"} {
			sv, _ := a.Get(f)
			bv, _ := b.Get(f)
			require.Equal(t, sv, bv, "column %s", f)
		}
	}
	e, _ := afterOf(str[1]).Get("e")
	f, _ := afterOf(str[1]).Get("f")
	v, _ := afterOf(str[2]).Get("v")
	require.Equal(t, []any{"ß", "ø😀", "жук"}, []any{e, f, v})
}

// Every latin1 byte streams as the snapshot (the server's conversion) gives it, the five bytes code
// page 1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) included: they are in the UTF-8 bytes of
// Á, Í, Ï, Ð, Ý and ” stored in a latin1 column, and came out as U+FFFD.
func TestLatin1EveryByteStreamsAsSnapshot(t *testing.T) {
	h := newHarness(t, nil)
	all := "UNHEX('"
	for b := 0x20; b <= 0xFF; b++ {
		all += fmt.Sprintf("%02X", b)
	}
	all += "')"
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(300) CHARACTER SET latin1)`, `INSERT INTO t VALUES (1, `+all+`)`)
	task := h.start()
	snap := h.poll(task, 1, true)
	h.exec(`INSERT INTO t VALUES (2, ` + all + `)`)
	str := h.poll(task, 1, true)
	sv, _ := afterOf(snap[0]).Get("v")
	bv, _ := afterOf(str[0]).Get("v")
	require.Equal(t, sv, bv)
	require.NotContains(t, bv, "\uFFFD")
}
