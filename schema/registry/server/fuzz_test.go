package server

import (
	"encoding/json"
	"testing"
)

// FuzzApply: any log entry is applied or skipped without panicking, and applying the same entries twice from
// scratch gives the same state.
func FuzzApply(f *testing.F) {
	for _, ev := range []event{
		{Op: opRegister, Subject: "s", IDL: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`},
		{Op: opUpdate, Subject: "s", IDL: `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`},
		{Op: opDeleteVersion, Subject: "s", Version: 1},
		{Op: opDeleteSubject, Subject: "s"},
	} {
		b, _ := json.Marshal(ev)
		f.Add(b, b)
	}
	f.Add([]byte(`{"op":"register","subject":"s","idl":"\"int\"","compatibility":"FULL"}`), []byte(`not json`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fold := func() string {
			st := newState()
			for i, data := range [][]byte{a, b, a} {
				if ev, err := decode(data); err == nil {
					st.apply(int64(i), ev, true)
				}
			}
			out := map[string]any{}
			for k, sub := range st.subjects {
				out[k.cluster+"/"+k.tenant+"/"+k.subject] = sub.records()
			}
			j, _ := json.Marshal(out)
			return string(j)
		}
		if x, y := fold(), fold(); x != y {
			t.Fatalf("folds differ:\n%s\n%s", x, y)
		}
	})
}
