package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// ClusterClient is the optional ability of the engine's task context that hands a task the
// worker's own RocketMQ client; mysql-cdc keeps its schema history through it unless
// schema.history.internal.rocketmq.namesrv names another cluster.
type ClusterClient interface {
	RocketMQ() *rmqclient.Client
}

// colDef is one column as information_schema.COLUMNS describes it.
type colDef struct {
	Name       string `json:"name"`
	DataType   string `json:"data_type"`
	ColumnType string `json:"column_type"`
	Scale      int32  `json:"scale,omitempty"`
	// Charset is a character string column's character set (CHARACTER_SET_NAME).
	Charset string `json:"charset,omitempty"`
	// RowEnd marks a system-versioned table's row end column: a row whose row end is not the largest
	// value is history. Hidden marks the row start and end columns MariaDB adds to a table with system
	// versioning and no PERIOD FOR SYSTEM_TIME: they are last, in the binlog but not in the catalog or the
	// records.
	RowEnd bool `json:"row_end,omitempty"`
	Hidden bool `json:"hidden,omitempty"`
}

// tableSchema is one table's columns and primary key at a binlog position; Dropped marks a
// table that no longer exists there.
type tableSchema struct {
	DB      string   `json:"db"`
	Table   string   `json:"table"`
	Columns []colDef `json:"columns,omitempty"`
	PK      []string `json:"pk,omitempty"`
	Dropped bool     `json:"dropped,omitempty"`
	// Charset is the table's default character set, which columns added without one take.
	Charset string `json:"charset,omitempty"`
}

func (s *tableSchema) id() string { return s.DB + "." + s.Table }

// historyEntry is one message of the schema history topic: the schemas of tables as they
// are from a binlog position on. Reset (the first message of a snapshot) forgets every table
// first. Entries of one server (topic.prefix) are written in binlog order to one queue.
type historyEntry struct {
	Server string        `json:"server"`
	File   string        `json:"file"`
	Pos    uint32        `json:"pos"`
	GTIDs  string        `json:"gtids,omitempty"`
	Reset  bool          `json:"reset,omitempty"`
	DDL    string        `json:"ddl,omitempty"`
	Tables []tableSchema `json:"tables"`
	TsMs   int64         `json:"ts_ms"`
}

// atOrBefore reports whether binlog position (file, pos) is at or before (rfile, rpos).
func atOrBefore(file string, pos uint32, rfile string, rpos uint32) bool {
	if c := compareFiles(file, rfile); c != 0 {
		return c < 0
	}
	return pos <= rpos
}

// compareFiles orders binlog file names by their numeric suffix (binlog.000009 < binlog.000010).
func compareFiles(a, b string) int {
	ab, an, aok := splitSuffix(a)
	bb, bn, bok := splitSuffix(b)
	if aok && bok && ab == bb {
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func splitSuffix(f string) (string, uint64, bool) {
	i := strings.LastIndexByte(f, '.')
	if i < 0 {
		return f, 0, false
	}
	n, err := strconv.ParseUint(f[i+1:], 10, 64)
	return f[:i], n, err == nil
}

var historySeq atomic.Int64

// history is the schema history topic: read whole at start, appended to synchronously.
type history struct {
	topic    string
	server   string
	client   *rmqclient.Client
	own      bool // client was made here and is closed by close
	producer *rmqclient.Producer
}

func (t *task) openHistory(ctx context.Context, tctx any) error {
	h := &history{topic: t.cfg.historyTopic, server: t.cfg.prefix}
	if len(t.cfg.historyNamesrv) > 0 {
		inst := fmt.Sprintf("mysql-cdc-history-%s-%d-%d", t.cfg.prefix, os.Getpid(), historySeq.Add(1))
		c, err := rmqclient.New(rmqclient.Config{NameServers: t.cfg.historyNamesrv, Instance: inst, Logger: t.log,
			OperationTimeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("%s: %w", KeyHistoryNamesrv, err)
		}
		h.client, h.own = c, true
	} else if cc, ok := tctx.(ClusterClient); ok && cc.RocketMQ() != nil {
		h.client = cc.RocketMQ()
	} else {
		return fmt.Errorf("%w: %s is not set and the engine offers no RocketMQ client for the schema history topic",
			ErrSchemaHistory, KeyHistoryNamesrv)
	}
	t.hist = h
	return nil
}

func (h *history) close() {
	if h.producer != nil {
		_ = h.producer.Close()
	}
	if h.own {
		_ = h.client.Close()
	}
}

// load reads every entry of this server from the topic, in order; exists is false when the
// topic has no route.
func (h *history) load(ctx context.Context) (entries []historyEntry, exists bool, err error) {
	queues, err := h.client.TopicQueues(ctx, h.topic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("route of schema history topic %s: %w", h.topic, err)
	}
	r := h.client.NewReader(fmt.Sprintf("mysql-cdc-history-%d", historySeq.Add(1)))
	defer r.Close()
	for _, q := range queues {
		_, maxOff, err := h.client.QueueOffsets(ctx, q)
		if err != nil {
			return nil, true, fmt.Errorf("read schema history topic %s: %w", h.topic, err)
		}
		for off := int64(0); off < maxOff; {
			msgs, next, err := r.ReadBelow(ctx, q, off, maxOff, 32)
			if err != nil {
				return nil, true, fmt.Errorf("read schema history topic %s: %w", h.topic, err)
			}
			if next <= off && len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				var e historyEntry
				if err := json.Unmarshal(m.Body, &e); err != nil {
					return nil, true, fmt.Errorf("%w: %s at %s offset %d: %v", ErrSchemaHistory, h.topic, q, m.Offset, err)
				}
				if e.Server == h.server {
					entries = append(entries, e)
				}
			}
			off = next
		}
	}
	return entries, true, nil
}

// create makes the topic (one queue, so it is totally ordered) when it has no route.
func (h *history) create(ctx context.Context) error {
	if _, err := h.client.TopicQueues(ctx, h.topic); !errors.Is(err, rmqclient.ErrNoRoute) {
		return err
	}
	if err := h.client.CreateTopic(ctx, rmqclient.TopicSpec{Name: h.topic, Queues: 1}); err != nil {
		return fmt.Errorf("create schema history topic %s: %w", h.topic, err)
	}
	return nil
}

// maxEntryTables bounds the tables of one message so a snapshot of many tables stays far
// below the broker's message size limit.
const maxEntryTables = 100

// write appends e (split into several messages when it names many tables) and returns once
// the broker stored it.
func (h *history) write(ctx context.Context, e historyEntry) error {
	if h.producer == nil {
		p, err := h.client.NewProducer(fmt.Sprintf("mysql-cdc-history-%s-%d", h.server, historySeq.Add(1)),
			rmqclient.ProducerOptions{Group: "rmqconnect-mysql-cdc-history", HashByKey: true})
		if err != nil {
			return err
		}
		h.producer = p
	}
	e.Server, e.TsMs = h.server, time.Now().UnixMilli()
	tables := e.Tables
	for first := true; first || len(tables) > 0; first = false {
		part := e
		part.Tables = tables[:min(len(tables), maxEntryTables)]
		tables = tables[len(part.Tables):]
		part.Reset = e.Reset && first
		b, err := json.Marshal(part)
		if err != nil {
			return err
		}
		if _, err := h.producer.Send(ctx, &rmqclient.Message{Topic: h.topic, Body: b, Keys: []string{h.server},
			Tag: "schema", ShardingKey: h.server}); err != nil {
			return fmt.Errorf("write schema history topic %s: %w", h.topic, err)
		}
	}
	return nil
}

// schemas is the captured tables' schemas at the stream's position, and the entries read
// from the history beyond the position a restart resumed from (a replay reuses them
// instead of re-reading the catalog, which may have changed since).
type schemas struct {
	tables map[string]*tableSchema
	built  map[string]*table
	// ahead holds, by "file:pos", the history entries after the resume position.
	ahead map[string][]historyEntry
}

func newSchemas() *schemas {
	return &schemas{tables: map[string]*tableSchema{}, built: map[string]*table{}, ahead: map[string][]historyEntry{}}
}

func posKey(file string, pos uint32) string { return file + ":" + strconv.FormatUint(uint64(pos), 10) }

func (s *schemas) apply(e historyEntry) {
	if e.Reset {
		clear(s.tables)
		clear(s.built)
	}
	for i := range e.Tables {
		ts := e.Tables[i]
		delete(s.built, ts.id())
		if ts.Dropped {
			delete(s.tables, ts.id())
			continue
		}
		s.tables[ts.id()] = &ts
	}
}

// rebuild applies the entries at or before the resume position and keeps the later ones. It
// returns the time the newest whole-schema (Reset) entry it applied was written; zero when
// none applies, and then the history does not cover the position (its start expired).
func (s *schemas) rebuild(entries []historyEntry, file string, pos uint32) (lastReset time.Time) {
	for _, e := range entries {
		if atOrBefore(e.File, e.Pos, file, pos) {
			s.apply(e)
			if e.Reset {
				lastReset = time.UnixMilli(e.TsMs)
			}
			continue
		}
		k := posKey(e.File, e.Pos)
		if !slices.ContainsFunc(s.ahead[k], func(o historyEntry) bool { return o.Reset == e.Reset && sameTables(o, e) }) {
			s.ahead[k] = append(s.ahead[k], e)
		}
	}
	return lastReset
}

// historyRefresh is how often a streaming task rewrites the whole schema to the history, so
// the entries a restart needs are never older than this (the broker deletes old messages).
const historyRefresh = 6 * time.Hour

// refreshHistory writes the current schemas as a whole-schema entry at the resume position
// when the last one is older than historyRefresh; only between transactions.
func (t *task) refreshHistory(ctx context.Context) error {
	if t.str == nil || t.str.tx.open || time.Since(t.lastReset) < historyRefresh {
		return nil
	}
	e := historyEntry{File: t.resume.file, Pos: t.resume.pos, GTIDs: t.resume.gtids, Reset: true}
	for _, ts := range t.schemas.tables {
		e.Tables = append(e.Tables, *ts)
	}
	slices.SortFunc(e.Tables, func(a, b tableSchema) int { return strings.Compare(a.id(), b.id()) })
	if err := t.hist.write(ctx, e); err != nil {
		return fmt.Errorf("%w: %v", ErrSchemaHistory, err)
	}
	t.lastReset = time.Now()
	return nil
}

func sameTables(a, b historyEntry) bool {
	ja, _ := json.Marshal(a.Tables)
	jb, _ := json.Marshal(b.Tables)
	return string(ja) == string(jb)
}
