package mysql

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// MariaDB's UUID, INET6 and INET4 columns come from the binlog as their binary form and from the snapshot
// as their text. binaryText names the columns whose binary form is converted to that text.
var binaryText = map[string]int{"uuid": 16, "inet6": 16, "inet4": 4}

// setBinaryText makes a column of DATA_TYPE dataType convert its streamed binary form to text.
func (c *column) setBinaryText(dataType string) {
	if _, ok := binaryText[strings.ToLower(dataType)]; ok && c.kind == kString {
		c.binaryType = strings.ToLower(dataType)
	}
}

// streamBinaryText is the text of a streamed UUID, INET6 or INET4 value. The binlog leaves out trailing
// zero bytes.
func (c *column) streamBinaryText(b string) (string, error) {
	n := binaryText[c.binaryType]
	if len(b) > n {
		return "", fmt.Errorf("column %s: a %s value of %d bytes", c.name, c.binaryType, len(b))
	}
	var v [16]byte
	copy(v[:], b)
	switch c.binaryType {
	case "uuid":
		return uuidText(v), nil
	case "inet6":
		return inet6Text(v), nil
	}
	return strconv.Itoa(int(v[0])) + "." + strconv.Itoa(int(v[1])) + "." + strconv.Itoa(int(v[2])) + "." + strconv.Itoa(int(v[3])), nil
}

// uuidText formats a UUID as MariaDB does, lowercase 8-4-4-4-12. A UUID of versions 1 to 5 with the
// variant bit set may come in MariaDB's record order (its segments reversed: node, variant, version,
// middle, low), which MariaDB tells by the variant bit in byte 6 and a positive byte 8 of the record.
func uuidText(v [16]byte) string {
	if int(int8(v[6]))&-int(int8(v[8]))&0x80 != 0 {
		var m [16]byte
		copy(m[0:4], v[12:16])
		copy(m[4:6], v[10:12])
		copy(m[6:8], v[8:10])
		copy(m[8:10], v[6:8])
		copy(m[10:16], v[0:6])
		v = m
	}
	h := hex.EncodeToString(v[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// inet6Text formats an IPv6 address as MariaDB does: lowercase groups without leading zeros, the first
// longest run of zero groups (even a single one) shortened to "::", and an IPv4-mapped (::ffff:a.b.c.d) or
// -compatible (::a.b.c.d, not :: or ::1) address with its last 32 bits as a dotted quad.
func inet6Text(v [16]byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(v[2*i])<<8 | int(v[2*i+1])
	}
	gapPos, gapLen := -1, -1
	for i := 0; i < 8; {
		if w[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && w[j] == 0 {
			j++
		}
		if j-i > gapLen {
			gapPos, gapLen = i, j-i
		}
		i = j
	}
	quad := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", v[12], v[13], v[14], v[15])
	}
	if gapPos == 0 && gapLen == 6 {
		return "::" + quad()
	}
	if gapPos == 0 && gapLen == 5 && w[5] == 0xffff {
		return "::ffff:" + quad()
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if i == gapPos {
			if i == 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(':')
			i += gapLen - 1
			continue
		}
		sb.WriteString(strconv.FormatInt(int64(w[i]), 16))
		if i < 7 {
			sb.WriteByte(':')
		}
	}
	return sb.String()
}
