package mysql

import "errors"

// Sentinel errors of mysql-cdc.
var (
	// ErrBinlogPurged means the binlog the stored position points into is no longer on the server.
	ErrBinlogPurged = errors.New("binlog position purged")
	// ErrServerConfig means the server does not log what the connector needs (binlog_format=ROW,
	// binlog_row_image=FULL).
	ErrServerConfig = errors.New("server binlog settings unsupported")
	// ErrSchemaHistory means the schema history topic is missing, unreadable or does not
	// describe the binlog being read.
	ErrSchemaHistory = errors.New("schema history unusable")
	// ErrBadStoredPosition means a stored position cannot be read.
	ErrBadStoredPosition = errors.New("bad stored position")
	// ErrAccessDenied means the server refused the connector's user (a wrong password, a missing
	// grant): reconnecting would fail the same way until someone changes the user or the config.
	ErrAccessDenied = errors.New("access denied")
)
