package postgres

import "errors"

// Sentinel errors of postgres-cdc.
var (
	// ErrSlotMissing means the replication slot a stored position refers to no longer exists: the changes
	// since that position are gone from the server.
	ErrSlotMissing = errors.New("replication slot missing")
	// ErrSlotUnusable means the server will not stream from the replication slot: it was invalidated
	// (wal_status lost: the server removed WAL the slot still needed) or START_REPLICATION failed with
	// SQLSTATE 55000 (object not in prerequisite state). Reconnecting fails the same way until someone acts.
	ErrSlotUnusable = errors.New("replication slot unusable")
	// ErrPublicationMissing means the publication the stream reads was dropped.
	ErrPublicationMissing = errors.New("publication missing")
	// ErrBadStoredPosition means a stored position cannot be read.
	ErrBadStoredPosition = errors.New("bad stored position")
	// ErrAccessDenied means the server refused the connector's user (a wrong password, a missing
	// privilege): reconnecting would fail the same way until someone changes the user or the config.
	ErrAccessDenied = errors.New("access denied")
	// ErrKeyUnavailable means a change's key is not in the WAL: a key column's value stored out of line
	// (TOAST) came as unchanged, without the old key that would give it. Emitting the change under a
	// placeholder key would corrupt every consumer that keeps one row per key; reading the row from the
	// table cannot help, as nothing else in the change identifies it.
	ErrKeyUnavailable = errors.New("change key unavailable")
)
