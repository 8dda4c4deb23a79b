package rmqclient

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNamesMatchTheirPatterns: ValidTopic and ValidGroup accept exactly what TopicPattern
// and GroupPattern (the counted-repetition forms errors quote) accept.
func TestNamesMatchTheirPatterns(t *testing.T) {
	topic, group := regexp.MustCompile(TopicPattern), regexp.MustCompile(GroupPattern)
	for _, s := range []string{"", "a", "%RETRY%g", "a|b", "a.b", "a b", "ä", "x\n",
		strings.Repeat("t", 127), strings.Repeat("t", 128), strings.Repeat("g", 255), strings.Repeat("g", 256)} {
		require.Equal(t, topic.MatchString(s), ValidTopic(s), "topic %q", s)
		require.Equal(t, group.MatchString(s), ValidGroup(s), "group %q", s)
	}
}
