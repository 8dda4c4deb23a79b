package mysql

import (
	"fmt"
	"strings"
	"unicode/utf8"

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
// server convert them to utf8mb4. MySQL's latin1 is Windows code page 1252 with its five undefined bytes
// kept as the C1 controls of the same value (latin1); ucs2, utf16 and utf32 are big-endian.
var charsets = map[string]encoding.Encoding{
	"latin1": latin1{}, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9,
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

// latin1 is MySQL's latin1: Windows code page 1252, whose five undefined bytes (0x81, 0x8D, 0x8F, 0x90,
// 0x9D) the server maps to U+0081 … U+009D, as ISO 8859-1 does, where x/text's Windows1252 gives U+FFFD.
// They are common: the UTF-8 bytes of Á, Í, Ï, Ð, Ý and ” stored in a latin1 column hold them. Text of
// ASCII only, most of it, is returned as it is.
type latin1 struct{ encoding.Encoding }

var latin1Runes = func() (t [256]rune) {
	for b := range 256 {
		r := charmap.Windows1252.DecodeByte(byte(b))
		if r == utf8.RuneError {
			r = rune(b)
		}
		t[b] = r
	}
	return t
}()

// decode converts latin1 bytes to UTF-8.
func (latin1) decode(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		b.WriteRune(latin1Runes[s[i]])
	}
	return b.String()
}

// streamText converts a streamed text value from the column's character set to UTF-8; a character set
// the connector cannot convert fails, rather than pass on bytes that are not the text.
func (c *column) streamText(s string) (string, error) {
	if c.decoder == nil {
		return "", fmt.Errorf("column %s: character set %s is not supported for streaming; convert the column to utf8mb4 (ALTER TABLE … CONVERT TO CHARACTER SET utf8mb4) or leave the table out of the captured tables", c.name, c.charset)
	}
	if l, ok := c.decoder.(latin1); ok {
		return l.decode(s), nil
	}
	out, err := c.decoder.NewDecoder().String(s)
	if err != nil {
		return "", fmt.Errorf("column %s: value in character set %s: %w", c.name, c.charset, err)
	}
	return out, nil
}
