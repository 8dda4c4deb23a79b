package httpconn_test

import (
	"context"
	"math/big"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// TestSinkBodyDecimalsAreNumbers: a Decimal is the same JSON number in a struct, in a schemaless value, in a
// batch and in a template; Date, Time and Timestamp are what Kafka's JsonConverter writes (days, milliseconds of
// the day, epoch milliseconds), and a schemaless time.Time is epoch milliseconds.
func TestSinkBodyDecimalsAreNumbers(t *testing.T) {
	price := schema.Decimal{Unscaled: big.NewInt(1999), Scale: 2}
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	st, err := schema.StructBuilder().Field("price", schema.DecimalSchema(2)).Field("day", schema.DateSchema()).
		Field("at", schema.TimestampSchema()).Field("time", schema.TimeSchema()).Build()
	require.NoError(t, err)
	v := schema.NewStruct(st).MustPut("price", price).MustPut("day", day).MustPut("at", at).
		MustPut("time", time.Date(1970, 1, 1, 12, 30, 0, 0, time.UTC))
	structRec := schema.NewRecord("t", nil, nil, st, v)
	mapRec := schema.NewRecord("t", nil, nil, nil, map[string]any{"price": price, "at": at})
	const structBody = `{"price":19.99,"day":19783,"at":1709296200000,"time":45000000}`
	const mapBody = `{"at":1709296200000,"price":19.99}`

	for _, tc := range []struct {
		batch string
		want  []string
	}{
		{"1", []string{mapBody, structBody}},
		{"10", []string{"[" + structBody + "," + mapBody + "]"}},
	} {
		rc := &recorder{}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		task, _ := startSink(t, map[string]string{"url": srv.URL + "/p/${value.price}", "batch.max.records": tc.batch})
		require.NoError(t, task.Put(context.Background(), []*schema.Record{structRec, mapRec}))
		require.NoError(t, task.Flush(context.Background(), nil))
		rc.mu.Lock()
		var got []string
		for i, b := range rc.body {
			got = append(got, string(b))
			require.Equal(t, "/p/19.99", rc.reqs[i].URL.Path)
		}
		rc.mu.Unlock()
		sort.Strings(got)
		require.Equal(t, tc.want, got, "batch.max.records=%s", tc.batch)
	}
}
