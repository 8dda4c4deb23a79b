package rmqclient

import "regexp"

// What brokers accept as topic and consumer group names, as the patterns errors quote.
const (
	TopicPattern = `^[%|a-zA-Z0-9_-]{1,127}$`
	GroupPattern = `^[%|a-zA-Z0-9_-]{1,255}$`
)

// nameChars is the character set of both. The length is checked apart: a counted repetition
// ({1,127}) compiles into a regexp program of ~120 KB kept for the life of the process.
var nameChars = regexp.MustCompile(`^[%|a-zA-Z0-9_-]+$`)

// ValidTopic reports whether s matches TopicPattern.
func ValidTopic(s string) bool { return len(s) <= 127 && nameChars.MatchString(s) }

// ValidGroup reports whether s matches GroupPattern.
func ValidGroup(s string) bool { return len(s) <= 255 && nameChars.MatchString(s) }
