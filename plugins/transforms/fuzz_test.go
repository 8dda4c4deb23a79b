package transforms

import (
	"strings"
	"testing"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// parseProperties reads `key=value` lines (a connector config as a user
// would write it); lines without '=' and comments are skipped.
func parseProperties(s string) map[string]string {
	cfg := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			cfg[strings.TrimSpace(k)] = v
		}
	}
	return cfg
}

// FuzzParseChain feeds arbitrary connector configs to ParseChain: it must
// never panic; a failure must be config errors (*cfgerr.Error) whose every entry names a key
// under transforms/predicates; a success must give a chain that runs over
// records of every shape without panicking. Seeds: testdata/fuzz/FuzzParseChain.
func FuzzParseChain(f *testing.F) {
	f.Add("transforms=a\ntransforms.a.type=Filter")
	records := oddRecords()
	f.Fuzz(func(t *testing.T, data string) {
		cfg := parseProperties(data)
		c, err := ParseChain(cfg, nil)
		if err != nil {
			fes := cfgerr.Flatten(err)
			if len(fes) == 0 {
				t.Fatalf("error is not a config error: %v", err)
			}
			for _, fe := range fes {
				if !strings.HasPrefix(fe.Key, TransformsKey) && !strings.HasPrefix(fe.Key, PredicatesKey) {
					t.Fatalf("error key %q outside transforms/predicates: %v", fe.Key, err)
				}
			}
			return
		}
		for _, r := range records {
			out, err := c.Apply(r)
			if err != nil && out != nil {
				t.Fatalf("error with a record: %v", err)
			}
		}
	})
}
