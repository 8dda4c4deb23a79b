package postgres

import (
	"slices"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// RelationsBuilt lists, as schema.table in order, the relations st has built from the stream's Relation
// messages.
func RelationsBuilt(st plugins.SourceTask) []string {
	t := st.(*task)
	t.run.Lock()
	defer t.run.Unlock()
	var out []string
	for _, r := range t.rels {
		out = append(out, r.schema+"."+r.name)
	}
	slices.Sort(out)
	return out
}
