package rmqname

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNamesMatchTheirPatterns: Topic and Group accept exactly what TopicPattern and GroupPattern (the
// forms errors quote) accept, on edge cases and on random strings over the accepted bytes and a few
// others (a multi-byte rune among them).
func TestNamesMatchTheirPatterns(t *testing.T) {
	topic, group := regexp.MustCompile(TopicPattern), regexp.MustCompile(GroupPattern)
	check := func(s string) {
		require.Equal(t, topic.MatchString(s), Topic(s), "topic %q", s)
		require.Equal(t, group.MatchString(s), Group(s), "group %q", s)
	}
	for _, s := range []string{"", "a", "%RETRY%g", "a|b", "a.b", "a b", "ä", "x\n", "Z9_-",
		strings.Repeat("t", 127), strings.Repeat("t", 128), strings.Repeat("g", 255), strings.Repeat("g", 256)} {
		check(s)
	}
	valid, any := []rune("aZ09%|_-"), []rune("aZ09%|_-. /\\:äx\x00")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		alphabet := valid // half the strings only of accepted bytes: their length decides
		if i%2 == 1 {
			alphabet = any
		}
		var b strings.Builder
		for range rng.IntN(260) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		check(b.String())
	}
}
