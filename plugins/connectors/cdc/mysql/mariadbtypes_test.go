package mysql_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// A MariaDB UUID primary key: the snapshot's key and a streamed delete's key for the same row are equal.
func TestUUIDKeyStreamsAsSnapshot(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE t (id UUID PRIMARY KEY, v INT)`, `INSERT INTO t VALUES ('123e4567-e89b-12d3-a456-426655440000', 1)`)
	task := h.start()
	snap := h.poll(task, 1, true)
	h.exec(`DELETE FROM t`)
	del := h.poll(task, 2, true)
	require.Equal(t, rowString(snap[0].Key.(*schema.Struct)), rowString(del[0].Key.(*schema.Struct)))
	require.True(t, schema.Equal(snap[0].Key, del[0].Key))
}

// MariaDB's UUID, INET6 and INET4 columns stream as the text the snapshot gives: UUIDs stored swapped
// (versions 1 to 5 with the variant bit) and as they are, IPv6 addresses with the longest run of zero
// groups shortened, IPv4-mapped and -compatible ones, IPv4 addresses.
func TestMariaDBTypesStreamAsSnapshot(t *testing.T) {
	h := newHarness(t, nil)
	vals := [][3]string{
		{"123e4567-e89b-12d3-a456-426655440000", "::1", "0.0.0.0"},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", "::", "255.255.255.255"},
		{"00000000-0000-0000-0000-000000000000", "::ffff:1.2.3.4", "10.0.0.1"},
		{"6ccd780c-baba-1026-9564-5b8c656024db", "::1.2.3.4", "192.168.1.2"},
		{"6ccd780c-baba-4026-7564-5b8c656024db", "1:0:2:3:4:5:6:7", "1.2.3.4"},
		{"6ccd780c-baba-7026-9564-5b8c656024db", "1:0:0:2:0:0:0:3", "127.0.0.1"},
		{"01234567-89ab-cdef-8123-456789abcdef", "2001:db8::ff00:42:8329", "8.8.8.8"},
		{"00000000-0000-1000-8000-000000000000", "fe80::", "100.64.0.1"},
	}
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, u UUID, i6 INET6, i4 INET4)`)
	for i, v := range vals {
		h.exec(fmt.Sprintf(`INSERT INTO t VALUES (%d, '%s', '%s', '%s')`, i+1, v[0], v[1], v[2]))
	}
	task := h.start()
	snap := h.poll(task, len(vals), true)
	for i, v := range vals {
		h.exec(fmt.Sprintf(`INSERT INTO t VALUES (%d, '%s', '%s', '%s')`, 100+i, v[0], v[1], v[2]))
	}
	str := h.poll(task, len(vals), true)
	for i := range vals {
		a, b := afterOf(snap[i]), afterOf(str[i])
		for _, f := range []string{"u", "i6", "i4"} {
			sv, _ := a.Get(f)
			bv, _ := b.Get(f)
			require.Equal(t, sv, bv, "row %d column %s", i+1, f)
		}
	}
}
