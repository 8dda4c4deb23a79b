package mysql

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// charsets maps the MariaDB/MySQL character sets whose binlog bytes are not UTF-8 to their decoders. The
// binlog holds a text column's bytes in the column's character set, where the snapshot's connection has the
// server convert them to utf8mb4. MySQL's latin1 is Windows code page 1252; ucs2, utf16 and utf32 are
// big-endian.
var charsets = map[string]encoding.Encoding{
	"latin1": charmap.Windows1252, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9,
	"latin7": charmap.ISO8859_13, "greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8,
	"cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251, "cp1256": charmap.Windows1256,
	"cp1257": charmap.Windows1257, "cp850": charmap.CodePage850, "cp852": charmap.CodePage852,
	"cp866": charmap.CodePage866, "koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U, "macroman": charmap.Macintosh,
	"ucs2": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf16": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16le": unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf32": utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
	"gbk": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK, "big5": traditionalchinese.Big5,
	"sjis": japanese.ShiftJIS, "cp932": japanese.ShiftJIS, "ujis": japanese.EUCJP, "eucjpms": japanese.EUCJP,
	"euckr": korean.EUCKR,
}

// utf8Compatible are the character sets whose bytes are UTF-8 as they are ("" is a column whose
// character set the recorded schema does not name: a schema history written before it named them).
var utf8Compatible = map[string]bool{"": true, "utf8": true, "utf8mb3": true, "utf8mb4": true, "ascii": true, "binary": true}

// charsetOf is the character set a collation belongs to: its name up to the first underscore.
func charsetOf(collation string) string {
	cs, _, _ := strings.Cut(strings.ToLower(collation), "_")
	return cs
}

// isTextType reports whether a DATA_TYPE is a character string type: one with a character set whose
// binlog bytes are text.
func isTextType(dataType string) bool {
	switch strings.ToLower(dataType) {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return true
	}
	return false
}

// setCharset makes the column convert streamed text from charset cs.
func (c *column) setCharset(cs string) {
	cs = strings.ToLower(cs)
	if c.kind != kString || utf8Compatible[cs] {
		return
	}
	c.charset, c.decoder = cs, charsets[cs]
}

// streamText converts a streamed text value from the column's character set to UTF-8; a character set
// the connector cannot convert fails, rather than pass on bytes that are not the text.
func (c *column) streamText(s string) (string, error) {
	if c.decoder == nil {
		return "", fmt.Errorf("column %s: character set %s is not supported for streaming; convert the column to utf8mb4 (ALTER TABLE … CONVERT TO CHARACTER SET utf8mb4) or leave the table out of the captured tables", c.name, c.charset)
	}
	out, err := c.decoder.NewDecoder().String(s)
	if err != nil {
		return "", fmt.Errorf("column %s: value in character set %s: %w", c.name, c.charset, err)
	}
	return out, nil
}
