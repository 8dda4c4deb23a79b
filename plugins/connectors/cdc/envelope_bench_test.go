package cdc_test

import (
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// BenchmarkAppendRecords is the envelope building of streamed inserts (op = one poll of 2,000: 20 events of
// 100 rows of four columns, keyed by the first, with mysql-cdc's source block), from a slab, with the
// worker's heap floor: the part of a CDC task's Poll after the rows are decoded, for profiling.
func BenchmarkAppendRecords(b *testing.B) {
	const events, rows = 20, 100
	gcfloor.Set(gcfloor.Default)
	defer gcfloor.Set(0)
	src := cdc.NewSource("mysql", "io.debezium.connector.mysql.Source",
		cdc.SourceField{Name: "server_id", Schema: schema.Int64Schema},
		cdc.SourceField{Name: "gtid", Schema: schema.OptionalStringSchema},
		cdc.SourceField{Name: "file", Schema: schema.StringSchema},
		cdc.SourceField{Name: "pos", Schema: schema.Int64Schema},
		cdc.SourceField{Name: "row", Schema: schema.Int32Schema})
	row := schema.StructBuilder().Name("bench.db.ev.Value").Field("id", schema.Int64Schema).
		Field("name", schema.OptionalStringSchema).Field("amount", schema.OptionalInt64Schema).
		Field("at", schema.OptionalInt64Schema).MustBuild()
	tb, err := cdc.NewTable("bench.db.ev", "bench.db.ev", row, []string{"id"}, src)
	if err != nil {
		b.Fatal(err)
	}
	slab := &cdc.Slab{}
	part := map[string]any{"server": "bench"}
	out := make([]*schema.Record, 0, events*rows)
	now := time.Now()
	var nowMs any = now.UnixMilli()
	b.ReportAllocs()
	for b.Loop() {
		out = out[:0]
		for ev := range events {
			v, err := src.Varying(cdc.SourceInfo{Connector: "mysql", Name: "bench", Ts: now, DB: "db", Table: "ev",
				Position: []any{int64(1), "", "binlog.000001", int64(ev * 4000), int32(0)}})
			if err != nil {
				b.Fatal(err)
			}
			for j := range rows {
				after := slab.Values(4)
				after[0], after[1], after[2], after[3] = int64(ev*rows+j), "name", int64(j), int64(j)
				if out, err = tb.AppendRecords(out, cdc.Event{Op: cdc.OpCreate, After: after, Source: v.StructIn(slab, int32(j)),
					Partition: part, Now: now, NowMs: nowMs, Slab: slab}, false); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events*rows), "ns/change")
}
