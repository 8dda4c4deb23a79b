package main

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// failingReader returns its data, failing once after the first failAfter bytes.
type failingReader struct {
	data      string
	failAfter int
	failed    bool
}

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.failed && r.failAfter == 0 {
		r.failed = true
		return 0, errors.New("disk hiccup")
	}
	n := len(p)
	if !r.failed {
		n = min(n, r.failAfter)
	}
	n = copy(p[:n], r.data)
	r.data = r.data[n:]
	if !r.failed {
		r.failAfter -= n
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// TestSourceKeepsLinesAcrossAReadError: a read that fails once after three lines and part of
// the fourth loses nothing: the SDK drops records returned with an error, and the Polls
// after the failing one deliver every line once, in order, with its position.
func TestSourceKeepsLinesAcrossAReadError(t *testing.T) {
	data := "l1\nl2\nl3\nl4\nl5\n"
	r := &failingReader{data: data, failAfter: len("l1\nl2\nl3\nl")}
	task := &sourceTask{path: "f", topic: "t", batch: 100, r: bufio.NewReaderSize(r, 16)}
	var got []string
	var failures int
	for range 10 {
		recs, err := task.Poll(t.Context())
		if err != nil {
			// As the SDK does: records returned with an error are dropped.
			require.True(t, plugins.IsRetriable(err), "a read error is retriable: %v", err)
			failures++
			continue
		}
		for _, rec := range recs {
			got = append(got, rec.Value.(string))
			require.Equal(t, int64(len(got)), rec.SourceOffset["line"], "the position of %q", rec.Value)
		}
	}
	require.Equal(t, 1, failures)
	require.Equal(t, strings.Fields(data), got)
}
