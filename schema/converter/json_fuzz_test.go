package converter

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rmqconnect/rmqconnect/schema"
)

// FuzzJSONToConnect feeds arbitrary bytes to the JSON decoder, with and without schemas. Decoding must never
// panic; whatever decodes must encode again, decode to an equal schema and value, and re-encode to the same bytes.
// Seeds: testdata/fuzz/FuzzJSONToConnect plus every golden envelope.
func FuzzJSONToConnect(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "envelope", "*.json"))
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSpace(b))
	}
	convs := []*JSONConverter{NewJSONConverter(), NewJSONConverter()}
	if err := convs[1].Configure(map[string]string{"schemas.enable": "false"}, false); err != nil {
		f.Fatal(err)
	}
	numeric := NewJSONConverter()
	if err := numeric.Configure(map[string]string{"decimal.format": "NUMERIC"}, false); err != nil {
		f.Fatal(err)
	}
	convs = append(convs, numeric)

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range convs {
			s, v, err := c.ToConnect("t", data)
			if c.schemasEnable {
				// The streaming payload decoder must agree with the tree-based reference.
				rs, rv, rerr := referenceToConnect(c, data)
				if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
					t.Fatalf("stream err %v, reference err %v", err, rerr)
				}
				if err == nil && (!s.Equal(rs) || !schema.Equal(v, rv)) {
					t.Fatalf("stream %#v, reference %#v", v, rv)
				}
			}
			if err != nil {
				if s != nil || v != nil {
					t.Fatalf("error with a result: %v", err)
				}
				continue
			}
			enc, err := c.FromConnect("t", s, v)
			if err != nil {
				t.Fatalf("decoded %q but cannot re-encode: %v", data, err)
			}
			s2, v2, err := c.ToConnect("t", enc)
			if err != nil {
				t.Fatalf("re-encoded %q does not decode: %v", enc, err)
			}
			if !s.Equal(s2) {
				t.Fatalf("schema changed in a round trip: %v -> %v (%q)", s, s2, enc)
			}
			if !schema.Equal(v, v2) {
				t.Fatalf("value changed in a round trip: %#v -> %#v (%q)", v, v2, enc)
			}
			enc2, err := c.FromConnect("t", s2, v2)
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding is not stable: %q vs %q (%v)", enc, enc2, err)
			}
		}
	})
}

// referenceToConnect decodes an envelope through the generic JSON tree only.
func referenceToConnect(c *JSONConverter, data []byte) (*schema.Schema, any, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	rawSchema, rawPayload, err := parseEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.cachedSchema(rawSchema)
	if err != nil {
		return nil, nil, err
	}
	node, err := parseDocument(rawPayload)
	if err != nil {
		return nil, nil, err
	}
	d := decoder{replaceNull: c.replaceNull}
	v, err := d.convert(s, node)
	if err != nil {
		return nil, nil, fmt.Errorf("json converter: decode payload: %w", err)
	}
	return s, v, nil
}
