package file

import (
	"github.com/rmqconnect/rmqconnect/schema"
)

// Keys and values file-source puts on its records and file-sink reads back.
const (
	// PartitionKey is the source-partition key; its value is the absolute path of the file.
	PartitionKey = "filename"
	// OffsetKey is the source-offset key; its value (int64) is the byte offset just after the record's line,
	// terminator included, i.e. where reading resumes when this record's position is committed.
	OffsetKey = "position"
	// FileIDKey is the source-offset key naming the file the position is in: "<device>:<inode>" (a string,
	// so it survives a JSON round trip). When the file at the path is another one at Start (a rotation
	// renamed the old file away and created a new one), the position does not apply and the file is read
	// from its start. Offsets without it (stored by earlier versions or set by hand) are used as they are.
	// Platforms without inodes leave it out.
	FileIDKey = "file.id"

	// HeaderTerminator names the header (string value) recording how the line ended in the source file:
	// TerminatorLF, TerminatorCRLF or TerminatorNone. file-sink writes that terminator back, so a file copied
	// source → topic → sink is byte-identical. The sink also looks the key up in Extensions.
	HeaderTerminator = "file.line.terminator"
	// TerminatorLF is a line ended by "\n".
	TerminatorLF = "LF"
	// TerminatorCRLF is a line ended by "\r\n".
	TerminatorCRLF = "CRLF"
	// TerminatorNone is a line without terminator (an unterminated tail emitted after partial.line.flush.ms).
	TerminatorNone = "NONE"

	// ExtError marks an error record: a record the source could not turn into data (see doc.go). Its value is
	// the error message. The engine must route such a record per errors.tolerance (DLQ or fail) and never
	// deliver it as data.
	ExtError = "connect.error"
	// ExtErrorClass names the error kind of an error record, ErrorClassLineTooLong for file-source.
	ExtErrorClass = "connect.error.class"
	// ExtErrorTruncated is "true" when an error record's value holds only a prefix of the raw bytes.
	ExtErrorTruncated = "connect.error.truncated"
	// ExtLineBytes is the full length in bytes of an over-long line, terminator excluded.
	ExtLineBytes = "file.line.bytes"
	// ErrorClassLineTooLong is the ExtErrorClass of a line longer than max.line.bytes.
	ErrorClassLineTooLong = "file.LineTooLong"
)

var terminatorBytes = map[string]string{
	TerminatorLF:   "\n",
	TerminatorCRLF: "\r\n",
	TerminatorNone: "",
	// The literal spellings are accepted from other producers.
	"\n":   "\n",
	"\r\n": "\r\n",
	"":     "",
}

// TerminatorOf returns the bytes that ended r's line in its source file: what HeaderTerminator (a header, or
// else an extension) says, and "\n" when the record carries no (known) terminator.
func TerminatorOf(r *schema.Record) string {
	if h, ok := r.Headers.Get(HeaderTerminator); ok {
		if s, ok := h.Value.(string); ok {
			if t, ok := terminatorBytes[s]; ok {
				return t
			}
		}
	}
	if s, ok := r.Extensions[HeaderTerminator]; ok {
		if t, ok := terminatorBytes[s]; ok {
			return t
		}
	}
	return "\n"
}

// IsErrorRecord reports whether r is an error record (it carries ExtError).
func IsErrorRecord(r *schema.Record) bool {
	_, ok := r.Extensions[ExtError]
	return ok
}
