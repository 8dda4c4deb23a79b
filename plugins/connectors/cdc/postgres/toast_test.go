package postgres_test

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/schema"
)

// image returns the named field of a record's before or after image; absent is whether the image is null.
func image(t *testing.T, r *schema.Record, which, field string) (v any, absent bool) {
	t.Helper()
	img, err := r.Value.(*schema.Struct).Get(which)
	require.NoError(t, err)
	st, _ := img.(*schema.Struct)
	if st == nil {
		return nil, true
	}
	v, err = st.Get(field)
	require.NoError(t, err)
	return v, false
}

// keyField returns the named field of a record's key.
func keyField(t *testing.T, r *schema.Record, field string) any {
	t.Helper()
	k, ok := r.Key.(*schema.Struct)
	require.True(t, ok, "record without a key: %v", r.Key)
	v, err := k.Get(field)
	require.NoError(t, err)
	return v
}

// toastRows counts the rows of a table's TOAST table: the chunks of the values it stores out of line.
func (h *harness) toastRows(table string) int {
	h.t.Helper()
	var toast string
	require.NoError(h.t, h.sql.QueryRow("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass", table).Scan(&toast))
	var n int
	require.NoError(h.t, h.sql.QueryRow("SELECT count(*) FROM "+toast).Scan(&n))
	return n
}

func opOf(t *testing.T, r *schema.Record) string {
	t.Helper()
	if r.Value == nil {
		return "tombstone"
	}
	op, err := r.Value.(*schema.Struct).Get("op")
	require.NoError(t, err)
	return op.(string)
}

// A key value stored out of line (TOASTed) that an UPDATE of another column leaves alone: pgoutput sends
// it as unchanged ('u') in the new tuple, and the server logs the old key instead (a key-only old tuple),
// since PostgreSQL 15 and the 2022 minor releases of 12 to 14. The record stays one update keyed by the
// real key, with the key in its after image, for a primary key, a key of two columns of which one is
// TOASTed, and a replica identity index; its before image is the logged key (the other columns null, as a
// delete's). A change of the other key column keeps the TOASTed one in the new key, and the deletes that
// follow are keyed by the real keys as well.
func TestToastedKeyUnchanged(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE pk (k TEXT PRIMARY KEY, n INT, big TEXT)`, `ALTER TABLE pk ALTER COLUMN big SET STORAGE EXTERNAL`,
		`CREATE TABLE two (a INT, b BYTEA, n INT, PRIMARY KEY (a, b))`,
		`CREATE TABLE idx (id INT PRIMARY KEY, u TEXT NOT NULL, n INT)`, `CREATE UNIQUE INDEX idx_u ON idx (u)`,
		`ALTER TABLE idx REPLICA IDENTITY USING INDEX idx_u`)
	task := h.start()
	// Keys of 2500 bytes that do not compress: a row holding one is over the 2 kB at which the server moves
	// values out of line, while the index entry, compressed or not, fits in its 2.7 kB.
	rnd := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 1250)
	for i := range raw {
		raw[i] = byte(rnd.Uint32())
	}
	bigKey := hex.EncodeToString(raw)
	bigBytes := make([]byte, 2500)
	for i := range bigBytes {
		bigBytes[i] = byte(rnd.Uint32())
	}
	big := strings.Repeat("x", 10000)
	h.exec(`INSERT INTO pk VALUES ('`+bigKey+`', 1, '`+big+`')`,
		`INSERT INTO two VALUES (7, '\x`+hex.EncodeToString(bigBytes)+`'::bytea, 1)`,
		`INSERT INTO idx VALUES (1, '`+bigKey+`', 1)`)
	for _, tb := range []string{"pk", "two", "idx"} {
		require.Positive(t, h.toastRows(tb), "table %s stores nothing out of line", tb)
	}
	h.exec(`UPDATE pk SET n = 2`, `UPDATE two SET n = 2`, `UPDATE idx SET n = 2`, `UPDATE two SET a = 8`,
		`DELETE FROM pk`, `DELETE FROM two`, `DELETE FROM idx`)
	recs := h.poll(task, 15, true)

	type want struct {
		table, op string
		key       map[string]any
	}
	keyPK := map[string]any{"k": bigKey}
	keyTwo := map[string]any{"a": int32(7), "b": bigBytes}
	keyTwo8 := map[string]any{"a": int32(8), "b": bigBytes}
	keyIdx := map[string]any{"u": bigKey}
	wants := []want{
		{"pk", "c", keyPK}, {"two", "c", keyTwo}, {"idx", "c", keyIdx},
		{"pk", "u", keyPK}, {"two", "u", keyTwo}, {"idx", "u", keyIdx},
		{"two", "d", keyTwo}, {"two", "tombstone", keyTwo}, {"two", "c", keyTwo8}, // the key change
		{"pk", "d", keyPK}, {"pk", "tombstone", keyPK}, {"two", "d", keyTwo8}, {"two", "tombstone", keyTwo8},
		{"idx", "d", keyIdx}, {"idx", "tombstone", keyIdx},
	}
	for i, w := range wants {
		r := recs[i]
		require.Equal(t, "srv-public-"+w.table, r.Topic, "record %d", i)
		require.Equal(t, w.op, opOf(t, r), "record %d of %s", i, w.table)
		for f, v := range w.key {
			require.Equal(t, v, keyField(t, r, f), "record %d (%s %s): key field %s", i, w.table, w.op, f)
			if w.op == "c" || w.op == "u" {
				got, _ := image(t, r, "after", f)
				require.Equal(t, v, got, "record %d (%s %s): after.%s", i, w.table, w.op, f)
			}
		}
		_, newKey := r.Headers.Get(cdc.HeaderNewKey)
		_, oldKey := r.Headers.Get(cdc.HeaderOldKey)
		require.Equal(t, i >= 6 && i <= 8, newKey || oldKey, "record %d: a key change's headers", i)
	}
	newKey, _ := recs[6].Headers.Get(cdc.HeaderNewKey)
	require.Equal(t, bigBytes, newKey.Value.(*schema.Struct).GetIndex(1), "the key change's delete names the new key")
	// The updates' after images: the changed column, and the big non-key column the placeholder.
	n, _ := image(t, recs[3], "after", "n")
	require.Equal(t, int32(2), n)
	b, _ := image(t, recs[3], "after", "big")
	require.Equal(t, postgres.Unavailable, b)
	// Their before images: the key the server logged.
	k, absent := image(t, recs[3], "before", "k")
	require.False(t, absent)
	require.Equal(t, bigKey, k)
	n, _ = image(t, recs[3], "before", "n")
	require.Nil(t, n)
}

// An unchanged TOASTed value of a column whose Connect type cannot hold the placeholder (NUMERIC with a
// scale: Decimal) arrives as null, with one warning naming the column; under REPLICA IDENTITY FULL it
// comes from the before image.
func TestUnchangedToastNumeric(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	for _, tb := range []string{"dflt", "full_ri"} {
		// The padding stays in the row, so that the number, the only column that may move, goes out of line.
		h.exec(`CREATE TABLE `+tb+` (id INT PRIMARY KEY, n INT, d NUMERIC(1000, 2), pad TEXT)`,
			`ALTER TABLE `+tb+` ALTER COLUMN d SET STORAGE EXTERNAL`, `ALTER TABLE `+tb+` ALTER COLUMN pad SET STORAGE PLAIN`)
	}
	h.exec(`ALTER TABLE full_ri REPLICA IDENTITY FULL`)
	task, logs := h.startLogged()

	num := strings.Repeat("1234567890", 99) + "12345678.25" // 998 digits before the point, about 500 bytes
	for _, tb := range []string{"dflt", "full_ri"} {
		h.exec(`INSERT INTO ` + tb + ` VALUES (1, 1, ` + num + `, repeat('p', 1800))`)
		require.Positive(t, h.toastRows(tb), "table %s stores nothing out of line", tb)
	}
	h.exec(`UPDATE dflt SET n = 2`, `UPDATE full_ri SET n = 2`, `UPDATE dflt SET n = 3`)
	recs := h.poll(task, 5, true)
	decimal := func(r *schema.Record) any {
		v, _ := image(t, r, "after", "d")
		if d, ok := v.(schema.Decimal); ok {
			return d.String()
		}
		return v
	}
	require.Equal(t, num, decimal(recs[0]))
	require.Nil(t, decimal(recs[2]), "dflt: the value is not in the WAL")
	require.Equal(t, num, decimal(recs[3]), "full_ri: from the before image")
	require.Nil(t, decimal(recs[4]))
	require.Equal(t, 1, strings.Count(logs.String(), "unchanged TOASTed value arrives as null"), "one warning: %s", logs.String())
	require.Contains(t, logs.String(), "table=public.dflt column=d")
}
