package postgres

import "errors"

// Sentinel errors of postgres-cdc.
var (
	// ErrSlotMissing means the replication slot a stored position refers to no longer exists: the changes
	// since that position are gone from the server.
	ErrSlotMissing = errors.New("replication slot missing")
	// ErrPublicationMissing means the publication the stream reads was dropped.
	ErrPublicationMissing = errors.New("publication missing")
	// ErrBadStoredPosition means a stored position cannot be read.
	ErrBadStoredPosition = errors.New("bad stored position")
	// ErrAccessDenied means the server refused the connector's user (a wrong password, a missing
	// privilege): reconnecting would fail the same way until someone changes the user or the config.
	ErrAccessDenied = errors.New("access denied")
)
