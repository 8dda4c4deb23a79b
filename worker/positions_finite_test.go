package worker

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPositionFoldRefusesNumbersPastFloat64: a position record (hand-written, or from another
// tool) holding a number no float64 holds is refused whole. Folded, it became +Inf, after which
// the worker's cache and position snapshots failed to encode on every try, and so did reading
// the connector's offsets.
func TestPositionFoldRefusesNumbersPastFloat64(t *testing.T) {
	for _, body := range []string{
		`{"connector":"c","inc":1,"gen":2,"positions":[{"partition":{"f":"x"},"offset":{"n":1e400}}]}`,
		`{"connector":"c","inc":1,"gen":2,"positions":[{"partition":{"f":1e400},"offset":{"n":1}}]}`,
		`{"connector":"c","inc":1,"gen":2,"positions":[{"partition":{"f":"x"},"offset":{"n":[1,{"m":-1e999}]}}]}`,
	} {
		s := newPositionState()
		require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 1,
			Positions: []positionEntry{{Partition: map[string]any{"f": "x"}, Offset: map[string]any{"n": int64(7)}}}}))
		var r positionRecord
		require.NoError(t, decodeExact([]byte(body), &r))
		err := s.apply(r)
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), "out of range", body)
		all := s.all("c", 1)
		require.Len(t, all, 1, "nothing of the record applied")
		assert.Equal(t, int64(7), all[0].Offset["n"])
		_, err = json.Marshal(s)
		require.NoError(t, err, "the fold still encodes (cache, snapshots)")
	}
}
