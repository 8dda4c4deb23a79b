package worker

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
)

// unusedKey is a key of a connector config that nothing reads: not the runtime, not the
// connector (its Spec), not a transform, predicate or converter. Such a key is a warning,
// never an error: configs pasted from Kafka Connect, Debezium or RocketMQ Connect carry keys
// this runtime does not implement, and they must keep working.
type unusedKey struct {
	key string
	// suggestion is a key that is read and close to key (a typo's likely intent), "" for none.
	suggestion string
	// note says why a key other Connect runtimes read has no effect here, "" for none.
	note string
}

// String is the key with its suggestion or note, as the worker log shows it.
func (u unusedKey) String() string {
	switch {
	case u.suggestion != "":
		return u.key + " (did you mean " + u.suggestion + "?)"
	case u.note != "":
		return u.key + " (" + u.note + ")"
	}
	return u.key
}

// runtimeAliases are the other spellings the runtime reads of its own keys (validateResolved,
// sinkTopics), by the kind of connector that reads them ("" for every kind).
var runtimeAliases = []struct{ key, kind string }{
	{"tasks.max", ""},
	{"topics", string(plugins.KindSink)},
}

// openPrefixes are the prefixes under which every key is handed on whole: the converters get
// their `<prefix>.<setting>` keys stripped of the prefix (converter.FromConfig) and declare no
// keys to check them against.
var openPrefixes = []string{"key.converter.", "value.converter."}

// notRead are keys and prefixes Kafka Connect reads for every connector that this runtime
// does not: each is reported with why it has no effect here.
var notRead = []struct {
	key    string
	prefix bool
	note   string
}{
	{"topics.regex", false, "not supported: a sink consumes the topics listed in connect.topicnames or topics"},
	{"header.converter", false, "headers travel as message properties, without a converter"},
	{"header.converter.", true, "headers travel as message properties, without a converter"},
	{"consumer.override.", true, "Kafka client override: the worker's RocketMQ clients take none"},
	{"producer.override.", true, "Kafka client override: the worker's RocketMQ clients take none"},
	{"admin.override.", true, "Kafka client override: the worker's RocketMQ clients take none"},
	{"errors.deadletterqueue.topic.replication.factor", false, "a RocketMQ topic has no replication factor: the broker's replicas (master and slaves, or DLedger) keep its copies"},
}

// renamed are Kafka Connect's names of keys this runtime reads under another name: each is
// reported with that name as the suggestion.
var renamed = map[string]string{
	"errors.deadletterqueue.context.headers.enable": "errors.deadletterqueue.context.properties.enable",
}

// chainSpecs maps every name and alias of a built-in transform (or predicate) to its Spec
// (nil when it declares no keys). The runtime's chains are built from transforms.Builtins().
type chainSpecs map[string]*plugins.ConfigSpec

var builtinChainSpecs = sync.OnceValues(func() (chainSpecs, chainSpecs) {
	index := func(infos []transforms.Info) chainSpecs {
		m := chainSpecs{}
		for _, in := range infos {
			for _, n := range append([]string{in.Name}, in.Aliases...) {
				m[n] = in.Spec
			}
		}
		return m
	}
	r := transforms.Builtins()
	return index(r.Transforms()), index(r.Predicates())
})

// readKeys is what a connector config may hold that something reads: exact keys, and
// prefixes under which any key is read.
type readKeys struct {
	exact  map[string]bool
	prefix []string
}

func (r *readKeys) add(keys ...string) {
	for _, k := range keys {
		r.exact[k] = true
	}
}

// addSpec adds spec's field names and aliases, each after prefix.
func (r *readKeys) addSpec(prefix string, spec *plugins.ConfigSpec) {
	for _, f := range spec.Fields() {
		r.add(prefix + f.Name)
		for _, a := range f.Aliases {
			r.add(prefix + a)
		}
	}
}

func (r *readKeys) has(key string) bool {
	if r.exact[key] {
		return true
	}
	for _, p := range r.prefix {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// keysRead returns the keys of cfg's connector (of kind, declaring spec) that something
// reads: the runtime's keys (commonDefinitions and their aliases), the connector's Spec
// fields and aliases, the converters' prefixes, and the keys of each transform and predicate
// cfg lists, checked against its Spec. The transform chain's keys depend on cfg: only the
// aliases listed in `transforms` and `predicates` are read.
func keysRead(cfg map[string]string, kind plugins.Kind, spec *plugins.ConfigSpec) *readKeys {
	r := &readKeys{exact: map[string]bool{}, prefix: slices.Clone(openPrefixes)}
	for _, d := range commonDefinitions(kind) {
		r.add(d.Name)
	}
	for _, a := range runtimeAliases {
		if a.kind == "" || a.kind == string(kind) {
			r.add(a.key)
		}
	}
	if kind == plugins.KindSink && strings.TrimSpace(cfg["connect.topicnames"]) != "" {
		delete(r.exact, "topics") // sinkTopics reads it only without connect.topicnames
	}
	r.addSpec("", spec)
	tSpecs, pSpecs := builtinChainSpecs()
	chain := func(listKey string, specs chainSpecs, own []string) {
		for _, alias := range plugins.ParseList(cfg[listKey]) {
			p := listKey + "." + alias + "."
			r.add(p+"type", p+"class")
			for _, k := range own {
				r.add(p + k)
			}
			typ := strings.TrimSpace(cfg[p+"type"])
			if typ == "" {
				typ = strings.TrimSpace(cfg[p+"class"])
			}
			if s, ok := specs[typ]; ok {
				r.addSpec(p, s)
			} else {
				// An unknown or missing type is a config error of its own (ParseChain); its
				// keys cannot be checked.
				r.prefix = append(r.prefix, p)
			}
		}
	}
	chain(transforms.TransformsKey, tSpecs, []string{"predicate", "negate"})
	chain(transforms.PredicatesKey, pSpecs, nil)
	return r
}

// unusedKeysRuns counts the calls of unusedKeys, so that a test can check who pays for them:
// a suggestion costs an edit distance to every key that is read.
var unusedKeysRuns atomic.Int64

// unusedKeys returns the keys of cfg that nothing reads, sorted, each with a suggestion when
// a key that is read is close to it. cfg is the config of a connector of kind declaring
// spec (nil for none: a connector reads only the keys its Spec declares).
func unusedKeys(cfg map[string]string, kind plugins.Kind, spec *plugins.ConfigSpec) []unusedKey {
	unusedKeysRuns.Add(1)
	r := keysRead(cfg, kind, spec)
	var out []unusedKey
	for k := range cfg {
		if !r.has(k) {
			out = append(out, unusedKey{key: k})
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b unusedKey) int { return strings.Compare(a.key, b.key) })
	candidates := make([]string, 0, len(r.exact))
	for k := range r.exact {
		candidates = append(candidates, k)
	}
	slices.Sort(candidates)
	for i := range out {
		out[i].note = notReadNote(out[i].key)
		if out[i].key == "topics" && kind == plugins.KindSink {
			out[i].note = "connect.topicnames is set, and takes its place"
		}
		if to, ok := renamed[out[i].key]; ok && out[i].note == "" {
			out[i].suggestion = to
			continue
		}
		if out[i].note == "" && i < maxSuggested {
			out[i].suggestion = closestKey(out[i].key, candidates)
		}
	}
	return out
}

// maxSuggested bounds the keys of one config that get a suggestion, and maxSuggestedLen the
// length of such a key: a suggestion costs an edit distance to every known key, and a config
// comes from a request body of up to 4 MiB.
const (
	maxSuggested    = 100
	maxSuggestedLen = 128
)

func notReadNote(key string) string {
	for _, n := range notRead {
		if key == n.key || (n.prefix && strings.HasPrefix(key, n.key)) {
			return n.note
		}
	}
	return ""
}

// logUnusedKeys logs, in one line, the keys of connector name's config that nothing reads.
func logUnusedKeys(log *slog.Logger, name string, unused []unusedKey) {
	if len(unused) == 0 {
		return
	}
	const most = 50 // keys named in the line; the others are counted
	keys := make([]string, 0, min(len(unused), most))
	for _, u := range unused[:min(len(unused), most)] {
		keys = append(keys, oneLineKey(u.String()))
	}
	attrs := []any{"connector", name, "keys", keys}
	if len(unused) > most {
		attrs = append(attrs, "more_keys", len(unused)-most)
	}
	log.Warn("connector config keys are not read by the runtime or the connector", attrs...)
}

// oneLineKey cuts s to 200 bytes (between runes), so that a huge key cannot make a huge log line.
func oneLineKey(s string) string {
	if len(s) <= 200 {
		return s
	}
	cut := 200
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// closestKey returns the candidate closest to key: one that differs only in case or in its
// separators ('.', '_', '-'), else the nearest within a few edits (maxEdits), "" when none
// is. Ties go to the first candidate in candidates' order.
func closestKey(key string, candidates []string) string {
	folded := foldSeparators(key)
	for _, c := range candidates {
		if foldSeparators(c) == folded {
			return c
		}
	}
	if len(key) > maxSuggestedLen {
		return ""
	}
	k := []rune(unifySeparators(key))
	best, bestDist := "", maxEdits(len(k))+1
	for _, c := range candidates {
		cr := []rune(unifySeparators(c))
		if abs(len(cr)-len(k)) >= bestDist {
			continue // at least that many insertions or deletions
		}
		if d := editDistance(k, cr); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// maxEdits is the most edits a suggestion may be away from a key of n characters: short keys
// are a few edits away from many others.
func maxEdits(n int) int {
	switch {
	case n >= 8:
		return 2
	case n >= 3:
		return 1
	}
	return 0
}

// unifySeparators lower-cases s and writes its separators as '.'.
func unifySeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return '.'
		}
		return r
	}, strings.ToLower(s))
}

// foldSeparators lower-cases s and drops its separators.
func foldSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// editDistance is the optimal string alignment distance of a and b: the fewest insertions,
// deletions, substitutions and transpositions of adjacent characters that turn a into b
// (Damerau-Levenshtein without editing a substring twice).
func editDistance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
