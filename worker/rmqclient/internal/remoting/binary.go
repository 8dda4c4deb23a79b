package remoting

import (
	"encoding/binary"
	"fmt"
)

// RocketMQ's binary header (serialize type 1, RocketMQSerializable), which requests use
// instead of JSON: the broker answers a request in the serialize type it came in, and
// this header costs a fraction of JSON's to write and to read.
//
//	code int16, language byte, version int16, opaque int32, flag int32,
//	remark: int32 length + bytes, ext fields: int32 length + (int16 key length, key, int32 value length, value)*
const serializeBinary = 1

// languageGo is LanguageCode.GO.
const languageGo = 9

// languageNames are LanguageCode's names by code, for Command.Language.
var languageNames = []string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
	"PHP", "OMS", "RUST"}

// appendBinaryHeader appends c's header in the binary layout (ext fields in map order: the
// peer reads them into a map).
func appendBinaryHeader(b []byte, c *Command) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(c.Code))
	b = append(b, languageGo)
	b = binary.BigEndian.AppendUint16(b, uint16(c.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Opaque))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Flag))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Remark)))
	b = append(b, c.Remark...)
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	for k, v := range c.ExtFields {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	return b
}

// decodeBinaryHeader reads a binary header into c. Strings are copied out of h.
func decodeBinaryHeader(h []byte, c *Command) error {
	cur := &cursor{b: h}
	c.Code = int(int16(cur.u16()))
	if s := cur.take(1); s != nil {
		if int(s[0]) < len(languageNames) {
			c.Language = languageNames[s[0]]
		} else {
			c.Language = "OTHER"
		}
	}
	c.Version = int(int16(cur.u16()))
	c.Opaque = cur.i32()
	c.Flag = int(cur.i32())
	if n := cur.i32(); n > 0 {
		c.Remark = string(cur.take(int(n)))
	}
	extLen := int(cur.i32())
	ext := cur.take(extLen)
	if cur.bad {
		return fmt.Errorf("bad binary header of %d bytes", len(h))
	}
	if len(ext) > 0 {
		// One string holds every key and value; the map's strings are cut from it.
		all := string(ext)
		c.ExtFields = make(map[string]string, 12)
		for pos := 0; pos < len(all); {
			if pos+2 > len(all) {
				return fmt.Errorf("bad binary header: ext fields cut at %d of %d bytes", pos, len(all))
			}
			kl := int(binary.BigEndian.Uint16(ext[pos:]))
			pos += 2
			if pos+kl+4 > len(all) {
				return fmt.Errorf("bad binary header: ext fields cut at %d of %d bytes", pos, len(all))
			}
			k := all[pos : pos+kl]
			pos += kl
			vl := int(binary.BigEndian.Uint32(ext[pos:]))
			pos += 4
			if vl < 0 || vl > len(all)-pos {
				return fmt.Errorf("bad binary header: ext field %q overruns %d bytes", k, len(all))
			}
			c.ExtFields[k] = all[pos : pos+vl]
			pos += vl
		}
	}
	return nil
}
