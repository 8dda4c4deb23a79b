package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
)

// createOrders creates the partitioned table orders (key id, year) with partitions orders_2025 and
// orders_2026, one row in each, and a table other.
func (h *harness) createOrders() {
	h.t.Helper()
	h.exec(`CREATE TABLE orders (id INT, year INT, v TEXT, PRIMARY KEY (id, year)) PARTITION BY LIST (year)`,
		`CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES IN (2025)`,
		`CREATE TABLE orders_2026 PARTITION OF orders FOR VALUES IN (2026)`,
		`CREATE TABLE other (id INT PRIMARY KEY)`,
		`INSERT INTO orders VALUES (1, 2025, 'a'), (2, 2026, 'b')`, `INSERT INTO other VALUES (1)`)
}

// publicationMembers lists the tables added to the publication by name, as schema.table.
func (h *harness) publicationMembers() []string {
	h.t.Helper()
	return h.textRows(`SELECT n.nspname || '.' || c.relname FROM pg_publication_rel r
		JOIN pg_publication p ON p.oid = r.prpubid JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE p.pubname = 'pub' ORDER BY 1`)
}

// A partition is a table of its own (the publication publishes its changes under its name, unless it has
// publish_via_partition_root): each row is read once by the snapshot, from its partition, never again
// through the partitioned table, and snapshot and changes go to the partition's topic; a row moved to
// another partition is a delete (and tombstone) there and a create in the other. The lists select a
// partition by its own name. A filtered publication holds every table they select, partitioned table and
// partitions alike, and still carries each change once.
func TestPartitionsAreTables(t *testing.T) {
	for _, tc := range []struct {
		name, mode, include string
		members             []string
	}{
		{"all_tables", postgres.PubAllTables, "", nil},
		{"all_tables_partitions", postgres.PubAllTables, `public\.orders_.*`, nil},
		{"filtered", postgres.PubFiltered, "", []string{"public.orders", "public.orders_2025", "public.orders_2026", "public.other"}},
		{"filtered_partitions", postgres.PubFiltered, `public\.orders_.*`, []string{"public.orders_2025", "public.orders_2026"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"publication.autocreate.mode": tc.mode, "table.include.list": tc.include})
			h.createOrders()
			task := h.start()
			want := []string{
				"srv-public-orders_2025 {id=1,year=2025} r nil->{id=1,year=2025,v=a}",
				"srv-public-orders_2026 {id=2,year=2026} r nil->{id=2,year=2026,v=b}",
			}
			if tc.include == "" {
				want = append(want, "srv-public-other {id=1} r nil->{id=1}")
			}
			require.Equal(t, want, describeAll(h.poll(task, len(want), true)))
			h.exec(`UPDATE orders SET v = 'a2' WHERE id = 1`, `INSERT INTO orders VALUES (3, 2026, 'c')`,
				`UPDATE orders SET year = 2026 WHERE id = 1`)
			require.Equal(t, []string{
				"srv-public-orders_2025 {id=1,year=2025} u nil->{id=1,year=2025,v=a2}",
				"srv-public-orders_2026 {id=3,year=2026} c nil->{id=3,year=2026,v=c}",
				"srv-public-orders_2025 {id=1,year=2025} d {id=1,year=2025,v=<nil>}->nil",
				"srv-public-orders_2025 {id=1,year=2025} tombstone",
				"srv-public-orders_2026 {id=1,year=2026} c nil->{id=1,year=2026,v=a2}",
			}, describeAll(h.poll(task, 5, true)))
			h.quiet(task)
			if tc.mode == postgres.PubFiltered {
				require.Equal(t, tc.members, h.publicationMembers())
			}
		})
	}
}

// Under publish_via_partition_root the partitioned table is the table: the snapshot reads each row once
// through it, and snapshot and changes go to its topic, also when the publication holds its partitions
// too (filtered adds them, as the lists select them). pgoutput describes each partition too, after the
// partitioned table, though the changes name only the partitioned table: the task builds no relation from
// a partition's description, although the lists select the partitions.
func TestPartitionsPublishedViaRoot(t *testing.T) {
	for _, tc := range []struct {
		name, mode, include, pub string
	}{
		{"all_tables", postgres.PubAllTables, "", `CREATE PUBLICATION pub FOR ALL TABLES WITH (publish_via_partition_root = true)`},
		{"filtered", postgres.PubFiltered, `public\.orders.*`, `CREATE PUBLICATION pub FOR TABLE orders WITH (publish_via_partition_root = true)`},
		// The connector creates the publication so, asked by publish.via.partition.root.
		{"all_tables_by_key", postgres.PubAllTables, "", ""},
		{"filtered_by_key", postgres.PubFiltered, `public\.orders.*`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"publication.autocreate.mode": tc.mode, "table.include.list": tc.include}
			if tc.pub == "" {
				cfg[postgres.KeyPublishViaRoot] = "true"
			}
			h := newHarness(t, cfg)
			h.createOrders()
			if tc.pub != "" {
				h.exec(tc.pub)
			}
			task := h.start()
			want := []string{
				"srv-public-orders {id=1,year=2025} r nil->{id=1,year=2025,v=a}",
				"srv-public-orders {id=2,year=2026} r nil->{id=2,year=2026,v=b}",
			}
			if tc.include == "" {
				want = append(want, "srv-public-other {id=1} r nil->{id=1}")
			}
			require.Equal(t, want, describeAll(h.poll(task, len(want), true)))
			h.exec(`UPDATE orders SET v = 'a2' WHERE id = 1`, `UPDATE orders SET year = 2026 WHERE id = 1`)
			require.Equal(t, []string{
				"srv-public-orders {id=1,year=2025} u nil->{id=1,year=2025,v=a2}",
				"srv-public-orders {id=1,year=2025} d {id=1,year=2025,v=<nil>}->nil",
				"srv-public-orders {id=1,year=2025} tombstone",
				"srv-public-orders {id=1,year=2026} c nil->{id=1,year=2026,v=a2}",
			}, describeAll(h.poll(task, 4, true)))
			h.quiet(task)
			require.Equal(t, []string{"public.orders"}, postgres.RelationsBuilt(task))
			if tc.mode == postgres.PubFiltered {
				require.Equal(t, []string{"public.orders", "public.orders_2025", "public.orders_2026"}, h.publicationMembers())
			}
		})
	}
}

// Lists that select a table whose changes the publication publishes only under tables they do not select
// capture nothing of it: the task says so when it starts, naming the tables to select instead.
func TestPartitionSelectedButPublishedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name, mode, include, pub, table, publishedAs string
	}{
		{"partitioned_all_tables", postgres.PubAllTables, `public\.(orders|other)`, "", "public.orders", "public.orders_2025,public.orders_2026"},
		{"partitioned_filtered", postgres.PubFiltered, `public\.(orders|other)`, "", "public.orders", "public.orders_2025,public.orders_2026"},
		{"partition_via_root", postgres.PubAllTables, `public\.(orders_2025|other)`,
			`CREATE PUBLICATION pub FOR ALL TABLES WITH (publish_via_partition_root = true)`, "public.orders_2025", "public.orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"publication.autocreate.mode": tc.mode, "table.include.list": tc.include})
			h.createOrders()
			if tc.pub != "" {
				h.exec(tc.pub)
			}
			task, logs := h.startLogged()
			require.Contains(t, logs.String(), "table selected, but the publication publishes its changes under tables not selected")
			require.Contains(t, logs.String(), "table="+tc.table+" published_as="+tc.publishedAs)
			require.Equal(t, []string{"srv-public-other {id=1} r nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
			h.exec(`UPDATE orders SET v = v || '2'`, `INSERT INTO other VALUES (2)`)
			require.Equal(t, []string{"srv-public-other {id=2} c nil->{id=2}"}, describeAll(h.poll(task, 1, true)))
			h.quiet(task)
		})
	}
}

// Attaching or detaching a partition while the task runs changes no topic without publish_via_partition_root:
// a partition's changes come under its own name before, while and after it is one. With it, a table's
// changes come under the partitioned table while it is a partition of it (where its rows from before are
// not), and under its own name before and after. A filtered publication publishes a table attached after
// the start, not in it before, from the attach on, through the partitioned table it holds.
func TestPartitionAttachedAndDetached(t *testing.T) {
	for _, tc := range []struct {
		name, mode, pub string
		want            []string
	}{
		{"all_tables", postgres.PubAllTables, "", []string{
			"srv-public-orders_2027 {id=5,year=2027} c nil->{id=5,year=2027,v=x}",
			"srv-public-orders_2027 {id=5,year=2027} u nil->{id=5,year=2027,v=x2}",
			"srv-public-orders_2027 {id=6,year=2027} c nil->{id=6,year=2027,v=y}",
			"srv-public-orders_2025 {id=1,year=2025} u nil->{id=1,year=2025,v=gone}",
			"srv-public-orders_2026 {id=2,year=2026} u nil->{id=2,year=2026,v=b2}",
			"srv-public-orders_2027 {id=5,year=2027} u nil->{id=5,year=2027,v=b2}",
			"srv-public-orders_2027 {id=6,year=2027} u nil->{id=6,year=2027,v=b2}",
		}},
		{"filtered", postgres.PubFiltered, "", []string{
			"srv-public-orders_2027 {id=5,year=2027} u nil->{id=5,year=2027,v=x2}",
			"srv-public-orders_2027 {id=6,year=2027} c nil->{id=6,year=2027,v=y}",
			"srv-public-orders_2025 {id=1,year=2025} u nil->{id=1,year=2025,v=gone}",
			"srv-public-orders_2026 {id=2,year=2026} u nil->{id=2,year=2026,v=b2}",
			"srv-public-orders_2027 {id=5,year=2027} u nil->{id=5,year=2027,v=b2}",
			"srv-public-orders_2027 {id=6,year=2027} u nil->{id=6,year=2027,v=b2}",
		}},
		{"via_root", postgres.PubAllTables, `CREATE PUBLICATION pub FOR ALL TABLES WITH (publish_via_partition_root = true)`, []string{
			"srv-public-orders_2027 {id=5,year=2027} c nil->{id=5,year=2027,v=x}",
			"srv-public-orders {id=5,year=2027} u nil->{id=5,year=2027,v=x2}",
			"srv-public-orders {id=6,year=2027} c nil->{id=6,year=2027,v=y}",
			"srv-public-orders_2025 {id=1,year=2025} u nil->{id=1,year=2025,v=gone}",
			"srv-public-orders {id=2,year=2026} u nil->{id=2,year=2026,v=b2}",
			"srv-public-orders {id=5,year=2027} u nil->{id=5,year=2027,v=b2}",
			"srv-public-orders {id=6,year=2027} u nil->{id=6,year=2027,v=b2}",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"publication.autocreate.mode": tc.mode, "snapshot.mode": "never"})
			h.createOrders()
			if tc.pub != "" {
				h.exec(tc.pub)
			}
			task := h.start()
			h.exec(`CREATE TABLE orders_2027 (id INT, year INT, v TEXT, PRIMARY KEY (id, year))`, `INSERT INTO orders_2027 VALUES (5, 2027, 'x')`,
				`ALTER TABLE orders ATTACH PARTITION orders_2027 FOR VALUES IN (2027)`,
				`UPDATE orders SET v = 'x2' WHERE id = 5`, `INSERT INTO orders VALUES (6, 2027, 'y')`,
				`ALTER TABLE orders DETACH PARTITION orders_2025`, `UPDATE orders_2025 SET v = 'gone'`, `UPDATE orders SET v = 'b2'`)
			require.Equal(t, tc.want, describeAll(h.poll(task, len(tc.want), true)))
			h.quiet(task)
		})
	}
}

// A table inheriting from another (INHERITS, not a partition) is a table of its own in the publication:
// the snapshot reads the parent's own rows only, so that the child's rows are read once, on the child's
// topic, where their changes go.
func TestInheritedTablesReadOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE parent (id INT PRIMARY KEY, v TEXT)`, `CREATE TABLE child (extra INT) INHERITS (parent)`,
		`ALTER TABLE child ADD PRIMARY KEY (id)`, `INSERT INTO parent VALUES (1, 'p')`, `INSERT INTO child VALUES (2, 'c', 7)`)
	task := h.start()
	require.Equal(t, []string{
		"srv-public-child {id=2} r nil->{id=2,v=c,extra=7}",
		"srv-public-parent {id=1} r nil->{id=1,v=p}",
	}, describeAll(h.poll(task, 2, true)))
	h.quiet(task)
	h.exec(`UPDATE parent SET v = v || '2'`)
	require.Equal(t, []string{
		"srv-public-parent {id=1} u nil->{id=1,v=p2}",
		"srv-public-child {id=2} u nil->{id=2,v=c2,extra=7}",
	}, describeAll(h.poll(task, 2, true)))
	h.quiet(task)
}

// A filtered publication holds the INHERITS parent the lists select, not its children: published, a child
// without a replica identity could not be updated any more.
func TestFilteredPublicationLeavesInheritingTablesOut(t *testing.T) {
	h := newHarness(t, map[string]string{"publication.autocreate.mode": postgres.PubFiltered, "table.include.list": `public\.parent`})
	h.exec(`CREATE TABLE parent (id INT PRIMARY KEY, v TEXT)`, `CREATE TABLE child (extra INT) INHERITS (parent)`,
		`INSERT INTO parent VALUES (1, 'p')`, `INSERT INTO child VALUES (2, 'c', 7)`)
	task := h.start()
	require.Equal(t, []string{"srv-public-parent {id=1} r nil->{id=1,v=p}"}, describeAll(h.poll(task, 1, true)))
	require.Equal(t, []string{"public.parent"}, h.publicationTables())
	h.exec(`UPDATE child SET v = 'c2'`, `UPDATE parent SET v = v || '3'`)
	require.Equal(t, []string{"srv-public-parent {id=1} u nil->{id=1,v=p3}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}

// A publication that exists is left as it is, also when publish.via.partition.root asks otherwise: the
// task warns, and its partitioned table's changes go on coming under the partitions.
func TestPublishViaRootLeavesExistingPublication(t *testing.T) {
	h := newHarness(t, map[string]string{"publication.autocreate.mode": postgres.PubAllTables, postgres.KeyPublishViaRoot: "true"})
	h.createOrders()
	h.exec(`CREATE PUBLICATION pub FOR ALL TABLES`)
	task, logs := h.startLogged()
	require.Contains(t, logs.String(), "the publication exists with another publish_via_partition_root")
	got := describeAll(h.poll(task, 3, true))
	require.Contains(t, got, "srv-public-orders_2025 {id=1,year=2025} r nil->{id=1,year=2025,v=a}")
	h.quiet(task)
}

// A partition attached after a filtered publication was created is published through its partitioned
// table only; the next start adds it by name, so that once detached it stays published and its changes
// are captured. It was taken as a member already (pg_publication_tables lists the partitions of a
// published partitioned table), so the detached table's changes were lost.
func TestFilteredPublicationKeepsDetachedPartition(t *testing.T) {
	h := newHarness(t, map[string]string{"publication.autocreate.mode": postgres.PubFiltered, "snapshot.mode": "never"})
	h.createOrders()
	task := h.start()
	h.exec(`CREATE TABLE orders_2027 PARTITION OF orders FOR VALUES IN (2027)`, `INSERT INTO orders VALUES (5, 2027, 'x')`)
	require.Equal(t, []string{"srv-public-orders_2027 {id=5,year=2027} c nil->{id=5,year=2027,v=x}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
	require.NoError(t, task.Stop(context.Background()))

	task = h.start()
	require.Contains(t, h.publicationMembers(), "public.orders_2027")
	h.exec(`ALTER TABLE orders DETACH PARTITION orders_2027`, `UPDATE orders_2027 SET v = 'gone'`)
	require.Equal(t, []string{"srv-public-orders_2027 {id=5,year=2027} u nil->{id=5,year=2027,v=gone}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}
