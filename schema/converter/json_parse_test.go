package converter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stdParse is the reference: encoding/json with UseNumber, exactly one value.
func stdParse(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

var parseSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `-0.5e+10`, `1E5`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `true`, `false`, `null`, `nul`, `tru`,
	`{"a":1,"a":2}`, `{"a" : [1 , 2 ] }`, ` [ ] `, `[1,]`, `{"a":1,}`, `{,}`, `{"a"}`, `{1:2}`, `"\u00e9\ud83d\ude00"`,
	`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\uzzzz"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"", `"\/\b\f\n\r\t\\\""`,
	"\"é😀\"", `[[[[]]]]`, `{"a":{"b":{"c":[null,true,false]}}}`, `1 2`, ` 1 `, "\t\n\r 1", `"abc`, `[`, `{"a":`,
	"\"\u2028\"", `"\u0000"`, `"\uD834\uDD1E"`, `[1e999]`, `{"":""}`, "\x00", `"a\\`,
}

func TestParserMatchesEncodingJSON(t *testing.T) {
	seeds := parseSeeds
	golden, _ := filepath.Glob(filepath.Join("testdata", "envelope", "*.json"))
	for _, p := range golden {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		seeds = append(seeds, string(b))
	}
	seeds = append(seeds, strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1))
	for _, s := range seeds {
		checkParserAgainstStd(t, []byte(s))
	}
}

func checkParserAgainstStd(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := stdParse(data)
	got, gotErr := parseDocument(data)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: encoding/json err=%v, parser err=%v", data, wantErr, gotErr)
	}
	if gotErr != nil {
		require.ErrorIs(t, gotErr, ErrMalformed)
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: encoding/json %#v, parser %#v", data, want, got)
	}
	// Validation-only mode accepts the same inputs.
	p := parser{data: data}
	_, err := p.value(false)
	if err == nil {
		err = p.end()
	}
	require.NoError(t, err)
}

// FuzzParseJSON holds the hand-written parser to encoding/json: same acceptance, same result.
func FuzzParseJSON(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParserAgainstStd(t, data)
	})
}
