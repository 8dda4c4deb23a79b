package file_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/schema"
)

// testLine returns line i of the conformance files: its content and terminator, mixing ASCII, multibyte
// UTF-8, empty lines, LF and CRLF.
func testLine(i int) (content, term string) {
	switch i % 4 {
	case 0:
		content = fmt.Sprintf("line %d", i)
	case 1:
		content = fmt.Sprintf("ligne %d — héllo, 日本語, 🚀", i)
	case 2:
		content = ""
	default:
		content = strings.Repeat("x", i%50) + fmt.Sprint(i)
	}
	if i%3 == 0 {
		return content, file.TerminatorCRLF
	}
	return content, file.TerminatorLF
}

func termBytes(term string) string {
	switch term {
	case file.TerminatorCRLF:
		return "\r\n"
	case file.TerminatorNone:
		return ""
	}
	return "\n"
}

func testLines(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		c, term := testLine(i)
		b.WriteString(c + termBytes(term))
	}
	return b.String()
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func terminatorHeader(t *testing.T, r *schema.Record) string {
	t.Helper()
	h, ok := r.Headers.Get(file.HeaderTerminator)
	require.True(t, ok, "record has header %s", file.HeaderTerminator)
	s, ok := h.Value.(string)
	require.True(t, ok)
	return s
}

func TestFileSourceConformance(t *testing.T) {
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return file.NewSourceConnector() },
		Setup: func(t *testing.T) map[string]string {
			path := filepath.Join(t.TempDir(), "in.txt")
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			return map[string]string{"file": path, "topic": "lines", "poll.interval.ms": "10", "batch.size": "37"}
		},
		Append: func(t *testing.T, cfg map[string]string, first, n int) {
			appendFile(t, cfg["file"], testLines(first, n))
		},
		Check: func(t *testing.T, i int, r *schema.Record) {
			content, term := testLine(i)
			require.Equal(t, content, r.Value, "record %d", i)
			require.Equal(t, schema.StringSchema, r.ValueSchema)
			require.Equal(t, term, terminatorHeader(t, r), "record %d", i)
			require.Equal(t, "lines", r.Topic)
			require.Equal(t, int64(len(testLines(0, i+1))), r.SourceOffset[file.OffsetKey], "record %d", i)
		},
	})
}

func TestFileSinkConformance(t *testing.T) {
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector { return file.NewSinkConnector() },
		Setup: func(t *testing.T) map[string]string {
			return map[string]string{"filename": filepath.Join(t.TempDir(), "out.txt")}
		},
		Record: func(i int) *schema.Record {
			content, term := testLine(i)
			r := schema.NewRecord("", nil, nil, schema.StringSchema, content)
			r.Headers.Add(file.HeaderTerminator, schema.StringSchema, term)
			return r
		},
		Verify: func(t *testing.T, cfg map[string]string, n int) {
			got, err := os.ReadFile(cfg["filename"])
			require.NoError(t, err)
			require.Equal(t, testLines(0, n), string(got))
		},
	})
}
