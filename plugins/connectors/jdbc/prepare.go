package jdbc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rmqconnect/rmqconnect/schema"
)

// tableMeta is what the catalog tells of a table: its columns by name and its primary key.
type tableMeta struct {
	cols map[string]*column
	pk   []string
}

// readMeta reads the catalog of q's table (nil for a query).
func (t *SourceTask) readMeta(ctx context.Context, q *querier) (*tableMeta, error) {
	if q.table.Name == "" {
		return nil, nil
	}
	cols, err := t.d.columns(ctx, t.db, q.table)
	if err != nil {
		return nil, t.queryErr(q, err)
	}
	m := &tableMeta{cols: map[string]*column{}}
	for i := range cols {
		m.cols[cols[i].Name] = &cols[i]
	}
	if m.pk, err = t.d.primaryKey(ctx, t.db, q.table); err != nil {
		return nil, t.queryErr(q, err)
	}
	return m, nil
}

// prepare (re)builds q's converters and schemas when the result's columns differ from the last query's
// (a column was added or changed), reading the table's catalog then.
func (t *SourceTask) prepare(ctx context.Context, q *querier, cts []colMeta) error {
	if q.rc != nil && colSig(cts) == q.rc.sig {
		return nil
	}
	meta, err := t.readMeta(ctx, q)
	if err != nil {
		return err
	}
	return t.prepareWith(q, cts, meta)
}

// prepareWith is prepare with the catalog already read (meta; nil for a query).
func (t *SourceTask) prepareWith(q *querier, cts []colMeta, meta *tableMeta) error {
	sig := colSig(cts)
	if q.rc != nil && sig == q.rc.sig {
		return nil
	}
	var cat map[string]*column
	var pk []string
	if meta != nil {
		cat, pk = meta.cols, meta.pk
	}
	convs := make([]colConv, len(cts))
	vb := schema.StructBuilder().Name(q.name())
	byName := map[string]int{}
	for i, ct := range cts {
		convs[i] = mapColumn(t.d.kind, ct, cat[ct.name])
		vb.Field(ct.name, convs[i].schema)
		byName[ct.name] = i
	}
	value, err := vb.Build()
	if err != nil {
		return fmt.Errorf("jdbc-source: %s: schema: %w", q.name(), err)
	}
	q.value, q.key, q.keyIdx, q.keyRun = value, nil, nil, -1
	if len(pk) > 0 {
		kb := schema.StructBuilder().Name(q.name() + ".Key")
		for _, k := range pk {
			i, ok := byName[k]
			if !ok {
				q.keyIdx = nil
				break
			}
			kb.Field(k, convs[i].schema)
			q.keyIdx = append(q.keyIdx, i)
		}
		if q.keyIdx != nil {
			if q.key, err = kb.Build(); err != nil {
				return fmt.Errorf("jdbc-source: %s: key schema: %w", q.name(), err)
			}
			q.keyRun = keyRun(q.keyIdx)
		}
	}
	pc := posCols{incIdx: -1}
	if i, ok := byName[t.sc.incCol]; ok && t.sc.incCol != "" {
		pc.incIdx = i
	} else if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), t.sc.incCol, KeyIncrementingCol)
	}
	if t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing {
		for _, c := range t.sc.tsCols {
			i, ok := byName[c]
			if !ok {
				return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), c, KeyTimestampCols)
			}
			pc.tsIdx = append(pc.tsIdx, i)
		}
	}
	var posIdx []int
	for _, i := range append([]int{pc.incIdx}, pc.tsIdx...) {
		if i >= 0 && !slices.Contains(posIdx, i) {
			posIdx = append(posIdx, i)
		}
	}
	t.warnNullable(q, cat)
	rc := &rowConv{sig: sig, convs: convs, pc: pc, posIdx: posIdx}
	for _, i := range pc.tsIdx {
		rc.tsUnit = max(rc.tsUnit, tsUnitOf(cts[i], convs[i].kind))
	}
	if t.sc.mode == ModeTimestamp && q.keyIdx != nil && t.canBreakTies(cts, convs, q.keyIdx) {
		rc.tieKey = q.keyIdx
	}
	q.rc = rc
	return nil
}

// keyRun is the first of the key's columns idx when they are consecutive in the row, and -1 otherwise.
func keyRun(idx []int) int {
	for j, c := range idx {
		if c != idx[0]+j {
			return -1
		}
	}
	return idx[0]
}

// colSig is the signature of a result's columns: their names and types.
func colSig(cts []colMeta) string {
	var sig strings.Builder
	for _, ct := range cts {
		sig.WriteString(ct.name + " " + ct.dbType + ",")
	}
	return sig.String()
}

// warnNullable warns, once per table, when the catalog (cat; nil for a query) lets the incrementing
// column, or every timestamp column, hold NULL: the incremental queries leave such rows out, as they
// have no place in the order the mode reads.
func (t *SourceTask) warnNullable(q *querier, cat map[string]*column) {
	if q.nullWarned || cat == nil {
		return
	}
	nullable := func(name string) bool { c := cat[name]; return c != nil && c.Nullable }
	if t.sc.mode == ModeIncrementing && nullable(t.sc.incCol) {
		q.nullWarned = true
		t.log.Warn("jdbc-source: rows whose incrementing column is NULL are never read", "table", q.name(),
			"column", t.sc.incCol)
	}
	if (t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing) && !slices.ContainsFunc(t.sc.tsCols,
		func(c string) bool { return !nullable(c) }) {
		q.nullWarned = true
		t.log.Warn("jdbc-source: rows whose timestamp columns are all NULL are never read", "table", q.name(),
			"column", strings.Join(t.sc.tsCols, ","))
	}
}
