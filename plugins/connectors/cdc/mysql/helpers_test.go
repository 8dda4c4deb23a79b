package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// harness runs mysql-cdc tasks on a fresh database, storing the positions of the records it takes.
type harness struct {
	t     *testing.T
	db    *dbtest.DB
	sql   *sql.DB
	cfg   map[string]string
	store *conformance.Positions
}

func newHarness(t *testing.T, extra map[string]string) *harness {
	db := dbtest.New(t, dbtest.MariaDB)
	h := &harness{t: t, db: db, sql: db.Open(t), store: conformance.NewPositions()}
	t.Cleanup(func() { _ = h.sql.Close() })
	f := fnv.New32a()
	_, _ = f.Write([]byte(db.Name))
	h.cfg = map[string]string{
		"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
		"database.password": db.Password, "database.server.id": fmt.Sprint(100000 + f.Sum32()%1000000),
		"topic.prefix": "srv", "database.include.list": db.Name, "poll.interval.ms": "100",
		"retriable.restart.connector.wait.ms":      "100",
		"schema.history.internal.rocketmq.namesrv": rmqtest.NameServer(t),
		"schema.history.internal.rocketmq.topic":   rmqtest.Name(t, "hist"),
	}
	for k, v := range extra {
		h.cfg[k] = v
	}
	return h
}

func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	for _, s := range stmts {
		_, err := h.sql.Exec(s)
		require.NoError(h.t, err, s)
	}
}

func (h *harness) start() plugins.SourceTask {
	h.t.Helper()
	task, err := h.tryStart()
	require.NoError(h.t, err)
	return task
}

func (h *harness) tryStart() (plugins.SourceTask, error) {
	h.t.Helper()
	c := mysql.NewConnector()
	cctx := conformance.ConnectorContextFor(h.t, c, h.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(h.t, c.Start(ctx, cctx, h.cfg))
	tcs, err := c.TaskConfigs(3)
	require.NoError(h.t, err)
	require.Len(h.t, tcs, 1)
	task := c.NewSourceTask()
	err = task.Start(ctx, conformance.SourceContextFor(h.t, c.Spec(), h.store, tcs[0]), tcs[0])
	h.t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task, err
}

// poll polls until n change records came (heartbeats are stored, not counted), storing their positions
// when ack is set.
func (h *harness) poll(task plugins.SourceTask, n int, ack bool) []*schema.Record {
	h.t.Helper()
	var out []*schema.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		require.True(h.t, time.Now().Before(deadline), "got %d of %d records: %v", len(out), n, describeAll(out))
		recs, err := task.Poll(context.Background())
		require.NoError(h.t, err)
		for _, r := range recs {
			require.NotNil(h.t, r.SourcePartition)
			require.NotNil(h.t, r.Offset())
			if ack {
				h.store.Commit(r)
			}
			if strings.HasPrefix(r.Topic, "__debezium-heartbeat") {
				continue
			}
			if r.Value != nil {
				require.NoError(h.t, r.ValueSchema.Validate(r.Value))
			}
			out = append(out, r)
		}
	}
	require.Len(h.t, out, n, "more records than expected: %v", describeAll(out))
	return out
}

func (h *harness) quiet(task plugins.SourceTask) {
	h.t.Helper()
	for i := 0; i < 3; i++ {
		recs, err := task.Poll(context.Background())
		require.NoError(h.t, err)
		for _, r := range recs {
			require.True(h.t, strings.HasPrefix(r.Topic, "__debezium-heartbeat"), "unexpected record %s", describe(r))
		}
	}
}

func describe(r *schema.Record) string {
	key := "-"
	if k, ok := r.Key.(*schema.Struct); ok {
		key = rowString(k)
	}
	if r.Value == nil {
		return fmt.Sprintf("%s %s tombstone", r.Topic, key)
	}
	env := r.Value.(*schema.Struct)
	get := func(n string) any { v, _ := env.Get(n); return v }
	img := func(n string) string {
		if st, ok := get(n).(*schema.Struct); ok && st != nil {
			return rowString(st)
		}
		return "nil"
	}
	return fmt.Sprintf("%s %s %s %s->%s", r.Topic, key, get("op"), img("before"), img("after"))
}

func rowString(st *schema.Struct) string {
	var parts []string
	for i, f := range st.Schema().Fields {
		v := st.GetIndex(i)
		switch x := v.(type) {
		case []byte:
			v = string(x)
		case time.Time:
			v = x.UTC().Format("2006-01-02T15:04:05.000")
		case schema.Decimal:
			v = x.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", f.Name, v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func describeAll(recs []*schema.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = describe(r)
	}
	return out
}

// topic is the topic of table in h's database.
func (h *harness) topic(table string) string { return "srv-" + h.db.Name + "-" + table }

// pollUntil polls until n change records (heartbeats left out) or an error, storing every record's position;
// it returns both.
func (h *harness) pollUntil(task plugins.SourceTask, n int, wait time.Duration) ([]*schema.Record, error) {
	h.t.Helper()
	var out []*schema.Record
	deadline := time.Now().Add(wait)
	for len(out) < n && time.Now().Before(deadline) {
		recs, err := task.Poll(context.Background())
		if err != nil {
			return out, err
		}
		for _, r := range recs {
			h.store.Commit(r)
			if strings.HasPrefix(r.Topic, "__debezium-heartbeat") {
				continue
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// afterOf is the after image of a change record's envelope, nil for none.
func afterOf(r *schema.Record) *schema.Struct {
	v, _ := r.Value.(*schema.Struct).Get("after")
	st, _ := v.(*schema.Struct)
	return st
}
