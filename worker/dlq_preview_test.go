package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestSinkFailureLogPreviewIsCapped: a message the converters refuse is logged
// (errors.log.include.messages) with at most its first 256 bytes, as a source's records
// are, and no preview is made when the log does not show one. The whole body used to be
// copied into the preview of every refused message, logged or not.
func TestSinkFailureLogPreviewIsCapped(t *testing.T) {
	body := []byte(strings.Repeat("x", 10000))
	m := &rmqclient.ReceivedMessage{Queue: rmqclient.Queue{Topic: "t"}, Offset: 7, Body: body}
	for _, tc := range []struct {
		name   string
		policy errorPolicy
		logged bool // a preview is made, and logged
	}{
		{"tolerated, no log", errorPolicy{tolerateAll: true, logMessages: true}, false},
		{"tolerated, logged without messages", errorPolicy{tolerateAll: true, logEnable: true}, false},
		{"tolerated, logged with messages", errorPolicy{tolerateAll: true, logEnable: true, logMessages: true}, true},
		{"failing the task, with messages", errorPolicy{logMessages: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := &errorReporter{policy: tc.policy, connector: "c", log: slog.New(slog.NewJSONHandler(&logs, nil)), metrics: &taskCounters{}}
			s := &sinkRunner{errs: r}
			fr := s.convFailure(m, StageValueConv)
			if !tc.logged {
				require.Empty(t, fr.preview)
			} else {
				require.Equal(t, strings.Repeat("x", 256)+"...", fr.preview)
			}
			_ = r.report(context.Background(), fr, errors.New("not json"))
			var line map[string]any
			if logs.Len() > 0 {
				require.NoError(t, json.Unmarshal(logs.Bytes(), &line))
			}
			if tc.logged {
				require.Equal(t, strings.Repeat("x", 256)+"...", line["record"])
			} else {
				require.NotContains(t, line, "record")
			}
		})
	}
}
