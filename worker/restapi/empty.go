package restapi

// EmptyList returns s, or an empty slice when s is nil, so that it encodes as [] rather than null: the
// Kafka Connect contract never answers null where a list is expected.
func EmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// EmptyMap returns m, or an empty map when m is nil, so that it encodes as {} rather than null.
func EmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
