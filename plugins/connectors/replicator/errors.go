package replicator

import "errors"

var (
	// ErrTopicDeleted means a topic the connector was told to replicate no longer exists
	// on the source cluster.
	ErrTopicDeleted = errors.New("source topic deleted")
	// ErrBadSync means an offset-sync message could not be decoded.
	ErrBadSync = errors.New("malformed offset sync")
)
