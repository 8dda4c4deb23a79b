package worker

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestDLQPreviewCutsAtACharacter: a text body longer than the preview is cut before the
// character the 256-byte mark falls in, and shown as text; cut inside it, the preview was not
// valid UTF-8 and the whole of it was shown quoted, as for a binary body.
func TestDLQPreviewCutsAtACharacter(t *testing.T) {
	for pad := range 4 {
		body := strings.Repeat("a", previewBytes-pad) + strings.Repeat("€", 100) // € is 3 bytes
		rec := decodeDLQ(&rmqclient.ReceivedMessage{Body: []byte(body)}, false)
		require.True(t, strings.HasPrefix(body, rec.BodyPreview), "pad %d: %q", pad, rec.BodyPreview)
		require.GreaterOrEqual(t, len(rec.BodyPreview), previewBytes-2, "pad %d", pad)
		require.LessOrEqual(t, len(rec.BodyPreview), previewBytes, "pad %d", pad)
	}
	bin := decodeDLQ(&rmqclient.ReceivedMessage{Body: []byte(strings.Repeat("\xff", 300))}, false)
	require.Equal(t, `"`+strings.Repeat(`\xff`, previewBytes)+`"`, bin.BodyPreview, "a binary body is still quoted, 256 bytes of it")
}
