package mysql

import "errors"

// Sentinel errors of mysql-cdc.
var (
	// ErrBinlogPurged means the binlog the stored position points into is no longer on the server.
	ErrBinlogPurged = errors.New("binlog position purged")
	// ErrServerConfig means the server does not log what the connector needs (binlog_format=ROW,
	// binlog_row_image=FULL, binlog_row_metadata=FULL).
	ErrServerConfig = errors.New("server binlog settings unsupported")
	// ErrBadStoredPosition means a stored position cannot be read.
	ErrBadStoredPosition = errors.New("bad stored position")
)
