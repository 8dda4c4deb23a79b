package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// harness runs postgres-cdc tasks on a fresh database, as the engine would: records are acknowledged
// (CommitRecord), their positions stored, then Commit called.
type harness struct {
	t     *testing.T
	db    *dbtest.DB
	sql   *sql.DB
	cfg   map[string]string
	store *conformance.Positions
	slot  string
}

func newHarness(t *testing.T, extra map[string]string) *harness {
	db := dbtest.New(t, dbtest.Postgres)
	h := &harness{t: t, db: db, sql: db.Open(t), store: conformance.NewPositions(), slot: db.Name}
	h.cfg = map[string]string{
		"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
		"database.password": db.Password, "database.dbname": db.Name, "database.sslmode": "disable",
		"topic.prefix": "srv", "slot.name": h.slot, "publication.name": "pub", "poll.interval.ms": "100",
		"retriable.restart.connector.wait.ms": "100",
	}
	for k, v := range extra {
		h.cfg[k] = v
	}
	// A slot keeps its database from being dropped: it goes first (cleanups run last-registered first, so
	// after the tasks started later have stopped).
	t.Cleanup(func() {
		_, _ = h.sql.Exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", h.slot)
		for i := 0; i < 50; i++ {
			if _, err := h.sql.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", h.slot); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = h.sql.Close()
	})
	return h
}

func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	for _, s := range stmts {
		_, err := h.sql.Exec(s)
		require.NoError(h.t, err, s)
	}
}

// start starts a task with the stored positions.
func (h *harness) start() plugins.SourceTask {
	h.t.Helper()
	task, _ := h.startLogged()
	return task
}

// startLogged starts a task with the stored positions, its log written to the returned buffer.
func (h *harness) startLogged() (plugins.SourceTask, *logBuffer) {
	h.t.Helper()
	task, logs, err := h.tryStartLogged()
	require.NoError(h.t, err)
	return task, logs
}

// tryStart starts a task with the stored positions and returns its Start's error.
func (h *harness) tryStart() (plugins.SourceTask, error) {
	h.t.Helper()
	task, _, err := h.tryStartLogged()
	return task, err
}

func (h *harness) tryStartLogged() (plugins.SourceTask, *logBuffer, error) {
	h.t.Helper()
	c := postgres.NewConnector()
	cctx := conformance.ConnectorContextFor(h.t, c, h.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(h.t, c.Start(ctx, cctx, h.cfg))
	tcs, err := c.TaskConfigs(3)
	require.NoError(h.t, err)
	require.Len(h.t, tcs, 1, "one task whatever max.tasks")
	sctx := conformance.SourceContextFor(h.t, c.Spec(), h.store, tcs[0])
	logs := &logBuffer{}
	sctx.Log = slog.New(slog.NewTextHandler(logs, nil))
	task := c.NewSourceTask()
	err = task.Start(ctx, sctx, tcs[0])
	h.t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task, logs, err
}

// logBuffer is a slog destination safe for concurrent writers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// poll polls until n records came (failing after 30 s), acknowledging and storing them when ack is set.
func (h *harness) poll(task plugins.SourceTask, n int, ack bool) []*schema.Record {
	h.t.Helper()
	ctx := context.Background()
	var out []*schema.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		require.True(h.t, time.Now().Before(deadline), "got %d of %d records: %v", len(out), n, describeAll(out))
		recs, err := task.Poll(ctx)
		require.NoError(h.t, err)
		for _, r := range recs {
			require.NotNil(h.t, r.SourcePartition)
			require.NotNil(h.t, r.Offset())
			if r.Value != nil {
				require.NoError(h.t, r.ValueSchema.Validate(r.Value))
			}
			if ack {
				h.ack(task, r)
			}
		}
		out = append(out, recs...)
	}
	require.Len(h.t, out, n, "more records than expected: %v", describeAll(out))
	if ack {
		require.NoError(h.t, task.Commit(ctx))
	}
	return out
}

func (h *harness) ack(task plugins.SourceTask, r *schema.Record) {
	require.NoError(h.t, task.(plugins.RecordCommitter).CommitRecord(context.Background(), r, &plugins.RecordMetadata{Topic: r.Topic}))
	h.store.Commit(r)
}

// quiet polls for a while and requires nothing more.
func (h *harness) quiet(task plugins.SourceTask) {
	h.t.Helper()
	for i := 0; i < 3; i++ {
		recs, err := task.Poll(context.Background())
		require.NoError(h.t, err)
		require.Empty(h.t, recs, "unexpected records: %v", describeAll(recs))
	}
}

// confirmedFlush is the slot's confirmed_flush_lsn.
func (h *harness) confirmedFlush() string {
	var s string
	require.NoError(h.t, h.sql.QueryRow("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", h.slot).Scan(&s))
	return s
}

// describe renders a record as "topic key op before->after", rows as their field values.
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
		if b, ok := v.([]byte); ok {
			v = string(b)
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

func sourceField(t *testing.T, r *schema.Record, name string) any {
	src, err := r.Value.(*schema.Struct).Get("source")
	require.NoError(t, err)
	v, err := src.(*schema.Struct).Get(name)
	require.NoError(t, err)
	return v
}
