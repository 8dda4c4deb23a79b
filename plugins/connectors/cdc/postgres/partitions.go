package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Partitioned tables. The table of a change is the one pgoutput names in it: the leaf partition the row
// is in, or, when the publication has publish_via_partition_root, the partitioned table it publishes the
// partition through. That table alone gives the change its topic, and the lists select it by its own name.
// pg_publication_tables lists exactly the tables the server publishes changes under, so the snapshot reads
// those, each by itself: every row is read once, onto the topic of its changes. Which table a change comes
// under follows attaching and detaching as the server decodes the change, so it needs no bookkeeping here
// (and none could be right: the catalog the task can query is today's, not the change's).

// publishedTables is a FROM item, to be given an alias: the tables publication $1 publishes changes under, as
// pg_publication_tables names them (schemaname, tablename), with the oid, relkind and relispartition of each.
const publishedTables = `(SELECT pt.schemaname, pt.tablename, c.oid, c.relkind, c.relispartition FROM pg_publication_tables pt
	JOIN pg_namespace n ON n.nspname = pt.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
	WHERE pt.pubname = $1)`

// warnPublishedElsewhere warns of each table the lists select whose changes the publication publishes
// only under tables the lists do not select, so that none is captured: a partitioned table published
// through its partitions (without publish_via_partition_root), or a partition published through its
// partitioned table (with it). A check that cannot be made is logged: it only warns, so it does
// not stop the task.
func (t *task) warnPublishedElsewhere(ctx context.Context) {
	if err := t.checkPublishedElsewhere(ctx); err != nil {
		t.log.Warn("could not check which tables the publication publishes changes under", "publication", t.cfg.publication, "err", err)
	}
}

func (t *task) checkPublishedElsewhere(ctx context.Context) error {
	// Each published table that is partitioned or a partition, paired with every table of its partition
	// tree whose changes it may carry: those it is a partition of, and its own partitions.
	rows, err := t.db.Query(ctx, `SELECT tn.nspname, tc.relname, pt.schemaname, pt.tablename FROM `+publishedTables+` pt
		CROSS JOIN LATERAL (SELECT relid FROM pg_partition_ancestors(pt.oid) UNION SELECT relid FROM pg_partition_tree(pt.oid)) r
		JOIN pg_class tc ON tc.oid = r.relid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
		WHERE pt.relkind = 'p' OR pt.relispartition
		ORDER BY 1, 2, 3, 4`, t.cfg.publication)
	if err != nil {
		return fmt.Errorf("partitioned tables of publication %s: %w", t.cfg.publication, err)
	}
	defer rows.Close()
	var order []tableName
	under := map[tableName][]tableName{}
	for rows.Next() {
		var tb, pub tableName
		if err := rows.Scan(&tb.schema, &tb.name, &pub.schema, &pub.name); err != nil {
			return err
		}
		if _, ok := under[tb]; !ok {
			order = append(order, tb)
		}
		under[tb] = append(under[tb], pub)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("partitioned tables of publication %s: %w", t.cfg.publication, err)
	}
	for _, tb := range order {
		pubs := under[tb]
		if !t.cfg.captured(tb.schema, tb.name) || slices.ContainsFunc(pubs, t.selected) {
			continue
		}
		names := make([]string, len(pubs))
		for i, p := range pubs {
			names[i] = p.schema + "." + p.name
		}
		t.log.Warn("table selected, but the publication publishes its changes under tables not selected, so they are not captured: "+
			"select those (a partition is a table of its own), or give the publication publish_via_partition_root = true to "+
			"capture a partitioned table as one table",
			"table", tb.schema+"."+tb.name, "published_as", strings.Join(names, ","), "publication", t.cfg.publication)
	}
	return nil
}

func (t *task) selected(tb tableName) bool { return t.cfg.captured(tb.schema, tb.name) }
