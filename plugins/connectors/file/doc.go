// Package file holds the built-in file connectors: file-source streams the lines of a file, file-sink appends
// record values to a file, one line each. A file copied file-source → topic → file-sink is byte-identical.
//
// file-source (one task):
//   - Each record is one line: Value is the line as a string (STRING schema) without its terminator; header
//     HeaderTerminator ("file.line.terminator") says how it ended: "LF", "CRLF" or "NONE". Bytes are passed
//     through unchanged (UTF-8, lone '\r', invalid UTF-8 alike); only "\n" ends a line.
//   - SourcePartition {"filename": absolute path}; SourceOffset {"position": int64 byte offset just after the
//     line and its terminator, "file.id": "<device>:<inode>" of the file read}. Start resumes from the
//     committed position; reading continues as the file grows. A file that becomes shorter than the position
//     is read again from its start (a warning is logged); a file replaced by rename is not followed (the task
//     keeps reading the file it opened), but a task started after the replacement finds another file.id at
//     the path and reads the new file from its start (a warning is logged). A position without file.id (stored
//     by an earlier version, or set by hand) is used as it is. A file missing at Start fails Start with an
//     error wrapping fs.ErrNotExist that names the path.
//   - An unterminated last line is not emitted and its bytes are not part of any position: at EOF it waits for
//     its terminator, and after a restart it is read again from its start. With partial.line.flush.ms > 0 it is
//     emitted with terminator "NONE" once the file has not grown for that long; if the file later grows, the
//     rest of that line becomes the next record, so the sink still reproduces the bytes exactly.
//
// Error records. A line longer than max.line.bytes (terminator excluded) is neither dropped nor delivered as
// data: Poll returns an error record in its place, in order, and reading goes on after the line. An error
// record is marked by its Extensions:
//
//	connect.error           the error message (its presence is the mark; see IsErrorRecord)
//	connect.error.class     "file.LineTooLong"
//	connect.error.truncated "true" when Value holds only a prefix of the raw bytes
//	file.line.bytes         the line's full length in bytes
//
// Its Value is the raw bytes of the line ([]byte, BYTES schema), at most its first max.line.bytes bytes, and
// its SourceOffset is the position after the line, so committing it skips the line. The engine must not convert
// or send an error record as data: with errors.tolerance=all it writes Value to the dead-letter queue (stage
// "poll", exception class and message from the extensions) and commits the offset; with none it fails the task
// with the message, so the line is read again (and fails again) after a restart.
//
// file-sink: Put appends the value (string or []byte as is, a nil value skipped, other values as schemaless
// JSON) followed by the record's terminator (TerminatorOf: the HeaderTerminator header or extension, "\n" by
// default). Flush writes the buffer and fsyncs before returning, so committed offsets never run ahead of the
// file. Stop writes and fsyncs what is left, then closes the file. The sink never removes bytes it did not
// write: the side file "<filename>.durable-size" records, while a task runs, the size from which the bytes
// are its own, and only a partial record after that size (a crash) is cut at the next Start, the whole
// of it when its value holds newlines.
package file
