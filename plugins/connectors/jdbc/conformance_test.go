package jdbc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

func confName(i int) string { return fmt.Sprintf("row %d — héllo ✓", i) }

func TestJDBCSourceConformance(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			var db *dbtest.DB
			conformance.TestSource(t, conformance.SourceHarness{
				NewConnector: func() plugins.SourceConnector { return jdbc.NewSourceConnector() },
				Setup: func(t *testing.T) map[string]string {
					db = dbtest.New(t, kind)
					db.Exec(t, "CREATE TABLE items (id "+autoInc(db)+", name VARCHAR(100) NOT NULL, price DECIMAL(10,2))")
					cfg := connCfg(db)
					cfg["mode"] = "incrementing"
					cfg["incrementing.column.name"] = "id"
					cfg["table.whitelist"] = "items"
					cfg["topic.prefix"] = "db_"
					cfg["poll.interval.ms"] = "10"
					cfg["batch.max.rows"] = "37"
					return cfg
				},
				Append: func(t *testing.T, _ map[string]string, first, n int) {
					var vals []string
					for i := first; i < first+n; i++ {
						vals = append(vals, fmt.Sprintf("(%d, '%s', %d.%02d)", i+1, confName(i), i, i%100))
					}
					db.Exec(t, "INSERT INTO items (id, name, price) VALUES "+strings.Join(vals, ", "))
				},
				Check: func(t *testing.T, i int, r *schema.Record) {
					require.Equal(t, "db_items", r.Topic)
					st := r.Value.(*schema.Struct)
					id, _ := st.Get("id")
					require.Equal(t, int64(i+1), id, "record %d", i)
					name, _ := st.Get("name")
					require.Equal(t, confName(i), name)
					price, _ := st.Get("price")
					require.Equal(t, fmt.Sprintf("%d.%02d", i, i%100), price.(schema.Decimal).String())
					require.Equal(t, int64(i+1), r.Key.(*schema.Struct).GetIndex(0), "key is the primary key")
				},
			})
		})
	}
}

func sinkValueSchema() *schema.Schema {
	return schema.StructBuilder().Name("item").
		Field("id", schema.Int64Schema).
		Field("name", schema.StringSchema).
		Field("price", schema.DecimalBuilder(2).Optional().MustBuild()).
		MustBuild()
}

func TestJDBCSinkConformance(t *testing.T) {
	vs := sinkValueSchema()
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			var db *dbtest.DB
			conformance.TestSink(t, conformance.SinkHarness{
				NewConnector: func() plugins.SinkConnector { return jdbc.NewSinkConnector() },
				Setup: func(t *testing.T) map[string]string {
					db = dbtest.New(t, kind)
					cfg := connCfg(db)
					cfg["insert.mode"] = "upsert"
					cfg["pk.mode"] = "record_value"
					cfg["pk.fields"] = "id"
					cfg["auto.create"] = "true"
					cfg["table.name.format"] = "out_${topic}"
					cfg["batch.size"] = "5"
					return cfg
				},
				Record: func(i int) *schema.Record {
					st := schema.NewStruct(vs).MustPut("id", int64(i)).MustPut("name", confName(i)).
						MustPut("price", schema.NewDecimal(int64(i*101), 2))
					return schema.NewRecord("", nil, nil, vs, st)
				},
				Verify: func(t *testing.T, _ map[string]string, n int) {
					conn := db.Open(t)
					defer conn.Close()
					rows, err := conn.Query("SELECT id, name, price FROM " + q(db, "out_conformance") + " ORDER BY id")
					require.NoError(t, err)
					defer rows.Close()
					i := 0
					for ; rows.Next(); i++ {
						var id int64
						var name, price string
						require.NoError(t, rows.Scan(&id, &name, &price))
						require.Equal(t, int64(i), id)
						require.Equal(t, confName(i), name)
						require.Equal(t, schema.NewDecimal(int64(i*101), 2).String(), price)
					}
					require.NoError(t, rows.Err())
					require.Equal(t, n, i, "rows in the table")
				},
			})
		})
	}
}
