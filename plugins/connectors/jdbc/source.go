package jdbc

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// sourceConfig is the parsed configuration of jdbc-source.
type sourceConfig struct {
	target        *target
	mode          string
	incCol        string
	tsCols        []string
	query         string
	whitelist     []string
	blacklist     []string
	topicPrefix   string
	pollInterval  time.Duration
	batchMaxRows  int
	tsDelay       time.Duration
	tablePoll     time.Duration
	taskTables    []string
	taskTablesSet bool
}

// parseSourceConfig checks the rules across keys of values parsed against sourceSpec (by the engine, or by
// Validate) and reads them.
func parseSourceConfig(v plugins.Values) (*sourceConfig, error) {
	var err error
	c := &sourceConfig{mode: v.String(KeyMode), incCol: v.String(KeyIncrementingCol), tsCols: v.List(KeyTimestampCols),
		query: strings.TrimSpace(v.String(KeyQuery)), whitelist: v.List(KeyWhitelist), blacklist: v.List(KeyBlacklist),
		topicPrefix: v.String(KeyTopicPrefix), pollInterval: v.Duration(KeyPollInterval),
		batchMaxRows: v.Int(KeyBatchMaxRows), tsDelay: v.Duration(KeyTimestampDelay),
		tablePoll: v.Duration(KeyTablePollInterval), taskTables: v.List(KeyTaskTables), taskTablesSet: v.IsSet(KeyTaskTables)}
	var errs cfgerr.List
	if (c.mode == ModeIncrementing || c.mode == ModeTimestampIncrementing) && c.incCol == "" {
		errs = append(errs, &cfgerr.Error{Key: KeyIncrementingCol, Reason: "required with mode=" + c.mode,
			Err: plugins.ErrMissingRequired})
	}
	if (c.mode == ModeTimestamp || c.mode == ModeTimestampIncrementing) && len(c.tsCols) == 0 {
		errs = append(errs, &cfgerr.Error{Key: KeyTimestampCols, Reason: "required with mode=" + c.mode,
			Err: plugins.ErrMissingRequired})
	}
	if c.query != "" && (len(c.whitelist) > 0 || len(c.blacklist) > 0) {
		errs = append(errs, &cfgerr.Error{Key: KeyQuery, Value: c.query,
			Reason: "cannot be combined with table.whitelist or table.blacklist", Err: plugins.ErrInvalidValue})
	}
	if len(c.whitelist) > 0 && len(c.blacklist) > 0 {
		errs = append(errs, &cfgerr.Error{Key: KeyBlacklist, Value: strings.Join(c.blacklist, ","),
			Reason: "cannot be combined with table.whitelist", Err: plugins.ErrInvalidValue})
	}
	if c.query != "" && c.topicPrefix == "" {
		errs = append(errs, &cfgerr.Error{Key: KeyTopicPrefix, Reason: "required with query (it is the topic)",
			Err: plugins.ErrMissingRequired})
	}
	c.target, err = parseTarget(v.String(KeyURL), v.String(KeyUser), v.Password(KeyPassword))
	if err != nil {
		errs = append(errs, &cfgerr.Error{Key: KeyURL, Reason: err.Error(), Err: plugins.ErrInvalidValue})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// SourceConnector is jdbc-source. In table mode it lists the tables, splits them over the tasks, and
// watches for tables appearing or disappearing every table.poll.interval.ms.
type SourceConnector struct {
	cfg    map[string]string
	sc     *sourceConfig
	db     *sql.DB
	cancel context.CancelFunc
	group  *errgroup.Group

	mu     sync.Mutex
	tables []tableID
}

// NewSourceConnector returns an unstarted jdbc-source connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec declares the connection, mode, table selection and polling keys.
func (c *SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate checks cfg against Spec and the cross-key rules (modes need their columns, query excludes the
// table lists); it does not connect.
func (c *SourceConnector) Validate(cfg map[string]string) error {
	v, err := sourceSpec.Parse(cfg)
	if err != nil {
		return err
	}
	_, err = parseSourceConfig(v)
	return err
}

// Start lists the tables (table mode) and starts watching for changes.
func (c *SourceConnector) Start(ctx context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	sc, err := parseSourceConfig(cctx.Config())
	if err != nil {
		return err
	}
	c.cfg, c.sc = maps.Clone(cfg), sc
	if sc.query != "" {
		return nil
	}
	db, err := sc.target.connect(ctx, 2)
	if err != nil {
		return err
	}
	tables, err := c.listTables(ctx, db)
	if err != nil {
		_ = db.Close()
		return err
	}
	c.db, c.tables = db, tables
	wctx, cancel := context.WithCancel(context.Background())
	g, wctx := errgroup.WithContext(wctx)
	c.cancel, c.group = cancel, g
	g.Go(func() error { c.watch(wctx, cctx); return nil })
	return nil
}

// listTables lists the tables to read: each of table.whitelist (a table or a view, found as a query would
// find it; a name that is neither fails with a configuration error naming it), or else every base table of
// the current schema (database) not in table.blacklist (by its bare or schema-qualified name).
func (c *SourceConnector) listTables(ctx context.Context, db *sql.DB) ([]tableID, error) {
	d := dialect{c.sc.target.dialect}
	var out []tableID
	if len(c.sc.whitelist) > 0 {
		var errs cfgerr.List
		for _, w := range c.sc.whitelist {
			id, ok, err := d.resolve(ctx, db, parseTableID(w))
			if err != nil {
				return nil, c.sc.target.wrap("find table "+w, err)
			}
			if !ok {
				errs = append(errs, &cfgerr.Error{Key: KeyWhitelist, Value: w, Err: plugins.ErrInvalidValue,
					Reason: "no table or view of that name (a bare name is looked up in PostgreSQL's search path, " +
						"or MySQL's database of connection.url)"})
				continue
			}
			out = append(out, id)
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return out, nil
	}
	all, schema, err := d.tables(ctx, db)
	if err != nil {
		return nil, c.sc.target.wrap("list tables", err)
	}
	for _, t := range all {
		// A blacklist entry is a bare name, or one qualified by the schema (database) the table is in.
		qualified := tableID{Schema: schema, Name: t.Name}.String()
		if !slices.ContainsFunc(c.sc.blacklist, func(b string) bool { return b == t.Name || b == qualified }) {
			out = append(out, t)
		}
	}
	return out, nil
}

// watch re-lists the tables every table.poll.interval.ms and asks for new task configs when they change.
func (c *SourceConnector) watch(ctx context.Context, cctx plugins.ConnectorContext) {
	tick := time.NewTicker(c.sc.tablePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tables, err := c.listTables(ctx, c.db)
		if err != nil {
			if ctx.Err() == nil {
				cctx.Logger().Warn("jdbc-source: listing tables failed", "err", err)
			}
			continue
		}
		c.mu.Lock()
		changed := !slices.Equal(tables, c.tables)
		c.tables = tables
		c.mu.Unlock()
		if changed {
			cctx.RequestTaskReconfiguration()
		}
	}
}

// TaskConfigs spreads the tables round-robin over at most maxTasks tasks (one task for a query, or when
// there is no table yet).
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	if c.sc.query != "" {
		return []map[string]string{maps.Clone(c.cfg)}, nil
	}
	c.mu.Lock()
	tables := slices.Clone(c.tables)
	c.mu.Unlock()
	n := min(maxTasks, len(tables))
	if n == 0 {
		tc := maps.Clone(c.cfg)
		tc[KeyTaskTables] = ""
		return []map[string]string{tc}, nil
	}
	groups := make([][]string, n)
	for i, t := range tables {
		groups[i%n] = append(groups[i%n], t.String())
	}
	out := make([]map[string]string, n)
	for i, g := range groups {
		tc := maps.Clone(c.cfg)
		tc[KeyTaskTables] = strings.Join(g, ",")
		out[i] = tc
	}
	return out, nil
}

// Stop ends the table watcher and closes the connection.
func (c *SourceConnector) Stop(context.Context) error {
	if c.cancel != nil {
		c.cancel()
		_ = c.group.Wait()
		c.cancel = nil
	}
	if c.db != nil {
		err := c.db.Close()
		c.db = nil
		return err
	}
	return nil
}

// NewSourceTask returns an unstarted SourceTask.
func (c *SourceConnector) NewSourceTask() plugins.SourceTask { return NewSourceTask() }
