package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/rmqconnect/rmqconnect/schema/avro"
	"github.com/rmqconnect/rmqconnect/schema/registry"
)

// The operations an event carries.
const (
	opRegister      = "register"
	opUpdate        = "update"
	opDeleteSubject = "delete-subject"
	opDeleteVersion = "delete-version"
	// opSnapshot carries the whole state as of a log position. Full replays ignore it (the
	// history before it is there); a replay of a log whose start was deleted by the broker's
	// retention rebuilds the state from it.
	opSnapshot = "snapshot"
)

// event is one entry of the log, JSON-encoded. Req is the proposer's request id, unique per proposal: the
// proposer waits for it, and every instance applies an event once per Req (see dedupWindow).
type event struct {
	Op            string `json:"op"`
	Req           string `json:"req,omitempty"`
	Cluster       string `json:"cluster"`
	Tenant        string `json:"tenant"`
	Subject       string `json:"subject"`
	Name          string `json:"name,omitempty"`
	IDL           string `json:"idl,omitempty"`
	Compatibility string `json:"compatibility,omitempty"`
	Owner         string `json:"owner,omitempty"`
	Desc          string `json:"desc,omitempty"`
	Version       int64  `json:"version,omitempty"`
	// Snapshot and AsOf: the state of every subject after applying the event at position AsOf.
	Snapshot []snapSubject `json:"snapshot,omitempty"`
	AsOf     int64         `json:"asOf,omitempty"`
	// Reqs: the request ids the state remembered as of AsOf, so that a copy of an event from before the snapshot
	// is skipped by a replay that starts at the snapshot too. Only a whole snapshot or part 0 carries them.
	Reqs []appliedReq `json:"reqs,omitempty"`
	// A snapshot too large for one log entry is appended as Parts entries sharing SnapID, Part 0
	// to Parts-1, each holding some subjects (a large subject's versions may be spread over
	// several parts). A snapshot without Parts is whole.
	SnapID string `json:"snapId,omitempty"`
	Part   int    `json:"part,omitempty"`
	Parts  int    `json:"parts,omitempty"`
}

// snapSubject is one subject in a snapshot.
type snapSubject struct {
	Cluster  string                  `json:"cluster"`
	Tenant   string                  `json:"tenant"`
	Subject  string                  `json:"subject"`
	Name     string                  `json:"name"`
	Compat   string                  `json:"compat"`
	SchemaID int64                   `json:"schemaId"`
	Next     int64                   `json:"next"`
	Versions []registry.SchemaRecord `json:"versions"`
}

// appliedReq is the request id of an applied event and the event's position.
type appliedReq struct {
	Req string `json:"req"`
	Pos int64  `json:"pos"`
}

// dedupWindow is how many log positions after its event a request id is remembered; a copy of the event within
// that distance is skipped. A copy comes from the producer retrying the send of one Append whose earlier attempt
// the broker stored but did not answer in time: every attempt happens before that Append returns, within the
// proposer's WriteTimeout (10s by default; the client library gives up after 3 attempts of 3s), and only writes
// stored in that time can land between the copies. 10,000 positions is over 1,000 writes a second for the whole
// of it, far beyond a registry's write rate (a schema is registered when a producer first meets it), for at most
// 10,000 ids in memory and about 600 KB in a snapshot. Every instance must use the same window, or they would
// decide a copy differently.
const dedupWindow = 10_000

// snapshot renders the whole state.
func (st *state) snapshot() []snapSubject {
	out := make([]snapSubject, 0, len(st.subjects))
	for k, sub := range st.subjects {
		out = append(out, snapSubject{Cluster: k.cluster, Tenant: k.tenant, Subject: k.subject, Name: sub.name,
			Compat: string(sub.compat), SchemaID: sub.schemaID, Next: sub.next, Versions: sub.records()})
	}
	slices.SortFunc(out, func(a, b snapSubject) int {
		return strings.Compare(a.Cluster+"\x00"+a.Tenant+"\x00"+a.Subject, b.Cluster+"\x00"+b.Tenant+"\x00"+b.Subject)
	})
	return out
}

// reqs returns the request ids the state remembers, in log order.
func (st *state) reqs() []appliedReq { return slices.Clone(st.recent) }

// restore replaces the state's subjects and remembered request ids with a snapshot's. A subject listed more than
// once (its versions spread over the parts of a split snapshot) gets the versions of every listing, in order. A
// snapshot without request ids (written before they were kept) leaves none remembered.
func (st *state) restore(snap []snapSubject, reqs []appliedReq) {
	st.applied, st.recent = map[string]int64{}, nil
	for _, r := range reqs {
		st.remember(r.Req, r.Pos)
	}
	st.subjects = map[subjectKey]*subjectState{}
	for _, s := range snap {
		k := subjectKey{s.Cluster, s.Tenant, s.Subject}
		sub := st.subjects[k]
		if sub == nil {
			sub = &subjectState{name: s.Name, compat: avro.Mode(s.Compat), schemaID: s.SchemaID, next: s.Next}
			st.subjects[k] = sub
		}
		for _, rec := range s.Versions {
			sub.versions = append(sub.versions, version{rec: rec, canon: canonical(rec.IDL)})
		}
	}
}

// splitSnapshot cuts a snapshot into parts whose subjects' JSON stays within budget bytes, in order;
// a subject larger than budget is listed in several parts with some of its versions each (a
// single version larger than budget gets a part of its own).
func splitSnapshot(snap []snapSubject, budget int) [][]snapSubject {
	var parts [][]snapSubject
	var cur []snapSubject
	size := 0
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, cur)
			cur, size = nil, 0
		}
	}
	add := func(s snapSubject, n int) {
		if size+n > budget {
			flush()
		}
		cur = append(cur, s)
		size += n
	}
	for _, s := range snap {
		n := jsonSize(s)
		if n <= budget {
			add(s, n)
			continue
		}
		head := s
		head.Versions = nil
		overhead := jsonSize(head)
		piece, pieceSize := head, overhead
		for _, v := range s.Versions {
			vn := jsonSize(v) + 1
			if len(piece.Versions) > 0 && pieceSize+vn > budget {
				add(piece, pieceSize)
				piece, pieceSize = head, overhead
				piece.Versions = nil
			}
			piece.Versions = append(piece.Versions, v)
			pieceSize += vn
		}
		add(piece, pieceSize)
	}
	flush()
	return parts
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// outcome is what applying (or trying) an event decided: an HTTP status and the JSON body to answer.
type outcome struct {
	status int
	body   any
	// changes is false when the event leaves the state as it is (a refusal, or a schema already registered).
	changes bool
}

func refuse(status int, msg string) outcome {
	return outcome{status: status, body: errorBody(status, msg)}
}

func errorBody(status int, msg string) map[string]any {
	return map[string]any{"status": status, "error": http.StatusText(status), "message": msg}
}

type subjectKey struct{ cluster, tenant, subject string }

type subjectState struct {
	name     string
	compat   avro.Mode
	schemaID int64 // the record id of the subject's first version: the schema's id
	next     int64 // the next version number
	versions []version
}

type version struct {
	rec   registry.SchemaRecord
	canon string // the parsed schema rendered again, to recognise the same schema written differently
}

// state is the fold of the log. It is not safe for concurrent use; Server guards it.
type state struct {
	subjects map[subjectKey]*subjectState
	last     int64 // position of the last applied event; -1 before the first
	// applied maps the request id of each event committed within the last dedupWindow positions to its position;
	// recent lists the same, in log order, to forget them.
	applied map[string]int64
	recent  []appliedReq
}

func newState() *state {
	return &state{subjects: map[subjectKey]*subjectState{}, last: -1, applied: map[string]int64{}}
}

// commit applies ev at log position pos, unless it is a copy of an event committed within dedupWindow positions
// before (a retried send stored it twice): it reports false then and changes nothing. Applying a copy again is not
// harmless when writes landed in between: a second delete would remove the subject registered again since, a
// second register would bring back a subject deleted since. An event without a request id is always applied.
func (st *state) commit(pos int64, ev *event) (outcome, bool) {
	n := 0
	for n < len(st.recent) && st.recent[n].Pos <= pos-dedupWindow {
		delete(st.applied, st.recent[n].Req)
		n++
	}
	st.recent = st.recent[n:]
	if ev.Req != "" {
		if _, ok := st.applied[ev.Req]; ok {
			return outcome{}, false
		}
		// Remembered whatever applying decides: a copy of a refused write must not succeed later either.
		st.remember(ev.Req, pos)
	}
	return st.apply(pos, ev, true), true
}

func (st *state) remember(req string, pos int64) {
	if _, ok := st.applied[req]; ok {
		return
	}
	st.applied[req] = pos
	st.recent = append(st.recent, appliedReq{Req: req, Pos: pos})
}

// canonical renders idl parsed; "" when it does not parse.
func canonical(idl string) string {
	s, err := avro.Parse(idl)
	if err != nil {
		return ""
	}
	return s.String()
}

// existing returns the newest version of sub holding the same schema as canon.
func (sub *subjectState) existing(canon string) (registry.Registered, bool) {
	for i := len(sub.versions) - 1; i >= 0; i-- {
		if v := sub.versions[i]; v.canon == canon {
			return registry.Registered{RecordID: v.rec.RecordID, Version: v.rec.Version}, true
		}
	}
	return registry.Registered{}, false
}

// apply decides ev against the state, at log position pos. With commit it also changes the state; without, it is a
// dry run (pos is then meaningless and the ids of a new version in the outcome are not real). The outcome depends
// only on the state and the event, so every instance that applies the same log decides the same.
func (st *state) apply(pos int64, ev *event, commit bool) outcome {
	k := subjectKey{ev.Cluster, ev.Tenant, ev.Subject}
	sub := st.subjects[k]
	switch ev.Op {
	case opRegister, opUpdate:
		return st.add(pos, k, sub, ev, commit)
	case opDeleteSubject:
		if sub == nil {
			return refuse(http.StatusNotFound, "subject "+ev.Subject+" not found")
		}
		if commit {
			delete(st.subjects, k)
		}
		out := make([]int64, len(sub.versions))
		for i, v := range sub.versions {
			out[i] = v.rec.Version
		}
		return outcome{status: http.StatusOK, body: map[string]any{"subject": sub.name, "versions": out}, changes: true}
	case opDeleteVersion:
		if sub == nil {
			return refuse(http.StatusNotFound, "subject "+ev.Subject+" not found")
		}
		i := slices.IndexFunc(sub.versions, func(v version) bool { return v.rec.Version == ev.Version })
		if i < 0 {
			return refuse(http.StatusNotFound, "schema version not found in subject "+sub.name)
		}
		if commit {
			sub.versions = slices.Delete(sub.versions, i, i+1)
			if len(sub.versions) == 0 {
				delete(st.subjects, k)
			}
		}
		return outcome{status: http.StatusOK, body: map[string]any{"subject": sub.name, "version": ev.Version}, changes: true}
	}
	return refuse(http.StatusBadRequest, "unknown operation "+ev.Op)
}

func (st *state) add(pos int64, k subjectKey, sub *subjectState, ev *event, commit bool) outcome {
	created := http.StatusOK
	if ev.Op == opRegister {
		created = http.StatusCreated
	}
	canon := canonical(ev.IDL)
	if canon == "" {
		_, err := avro.Parse(ev.IDL)
		return refuse(http.StatusUnprocessableEntity, "subject "+ev.Subject+": "+err.Error())
	}
	if sub != nil {
		if reg, ok := sub.existing(canon); ok {
			return outcome{status: created, body: reg}
		}
	}
	var mode avro.Mode
	switch {
	case ev.Op == opUpdate && sub == nil:
		return refuse(http.StatusNotFound, "subject "+ev.Subject+" not found")
	case ev.Op == opRegister && sub != nil:
		return refuse(http.StatusConflict, "subject "+ev.Subject+" already exists with another schema; add a version with PUT")
	case ev.Op == opRegister:
		m, err := avro.ParseMode(ev.Compatibility)
		if err != nil {
			return refuse(http.StatusBadRequest, err.Error())
		}
		mode = m
	default:
		prev := make([]string, len(sub.versions))
		for i, v := range sub.versions {
			prev[i] = v.rec.IDL
		}
		if err := avro.Check(ev.IDL, prev, sub.compat); err != nil {
			if errors.Is(err, avro.ErrIncompatible) {
				return refuse(http.StatusConflict, "subject "+sub.name+": "+err.Error())
			}
			return refuse(http.StatusUnprocessableEntity, "subject "+sub.name+": "+err.Error())
		}
	}
	id := pos + 1 // record ids start at 1; the log position makes them the same on every instance
	if sub == nil {
		sub = &subjectState{name: ev.Subject, compat: mode, schemaID: id, next: 1}
		if commit {
			st.subjects[k] = sub
		}
	}
	rec := registry.SchemaRecord{Subject: sub.name, SchemaName: ev.Name, SchemaID: sub.schemaID, RecordID: id,
		Version: sub.next, IDL: ev.IDL, Type: "AVRO"}
	if commit {
		sub.versions = append(sub.versions, version{rec: rec, canon: canon})
		sub.next++
	}
	return outcome{status: created, body: registry.Registered{RecordID: rec.RecordID, Version: rec.Version}, changes: true}
}

// decode reads one log entry; an entry that is not an event is skipped by every instance alike.
func decode(data []byte) (*event, error) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, err
	}
	if ev.Op == "" || (ev.Subject == "" && ev.Op != opSnapshot) {
		return nil, errors.New("event without op or subject")
	}
	return &ev, nil
}

// lookup returns the subject, or nil when it does not exist.
func (st *state) lookup(cluster, tenant, subject string) *subjectState {
	return st.subjects[subjectKey{cluster, tenant, subject}]
}

// list returns the sorted subject names of one cluster and tenant.
func (st *state) list(cluster, tenant string) []string {
	names := []string{}
	for k := range st.subjects {
		if k.cluster == cluster && k.tenant == tenant {
			names = append(names, k.subject)
		}
	}
	slices.Sort(names)
	return names
}

// records returns copies of sub's versions, oldest first.
func (sub *subjectState) records() []registry.SchemaRecord {
	out := make([]registry.SchemaRecord, len(sub.versions))
	for i, v := range sub.versions {
		out[i] = v.rec
	}
	return out
}

func (sub *subjectState) find(match func(registry.SchemaRecord) bool) (registry.SchemaRecord, bool) {
	for _, v := range sub.versions {
		if match(v.rec) {
			return v.rec, true
		}
	}
	return registry.SchemaRecord{}, false
}

func normType(t string) string { return strings.ToUpper(strings.TrimSpace(t)) }
