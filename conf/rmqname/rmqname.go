// Package rmqname checks the names RocketMQ brokers accept for topics and consumer groups. It
// imports nothing but the standard library, so configuration checks (conf), connectors and the
// RocketMQ client wrapper share one definition.
package rmqname

// What brokers accept, as the patterns errors quote.
const (
	TopicPattern = `^[%|a-zA-Z0-9_-]{1,127}$`
	GroupPattern = `^[%|a-zA-Z0-9_-]{1,255}$`
)

// Topic reports whether s matches TopicPattern.
func Topic(s string) bool { return len(s) <= 127 && nameChars(s) }

// Group reports whether s matches GroupPattern.
func Group(s string) bool { return len(s) <= 255 && nameChars(s) }

// nameChars reports whether s is not empty and every byte of it is one of %|a-zA-Z0-9_- (no
// regexp: a counted repetition like {1,127} compiles into a program of ~120 KB kept for good).
func nameChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
