package generator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestThrottle: the limiter lets the first record through at once and then one every 1/rate s, and its
// arithmetic saturates: a rate or an elapsed time past int64's range neither stops it producing nor makes
// it wait a negative time (a busy loop), and a rate so low that the next record is centuries away waits
// idleWait, not an overflowed Duration.
func TestThrottle(t *testing.T) {
	tests := []struct {
		name          string
		rate, elapsed float64
		emitted, n    int64
		want          int64
		wait          time.Duration // when want is 0: at least 1 ms and at most this
	}{
		{"first record at once", 200, 0, 0, 1000, 1, 0},
		{"next one not due", 200, 0.001, 1, 1000, 0, 5 * time.Millisecond},
		{"due ones", 200, 1, 100, 1000, 101, 0},
		{"capped by n", 200, 100, 0, 1000, 1000, 0},
		{"rate past int64", 1e19, 1.5, 0, 1000, 1000, 0},
		{"rate past int64, records emitted", 1e19, 1.5, 1_000_000, 1000, 1000, 0},
		{"elapsed past int64", 1e9, 1e11, 0, 1000, 1000, 0},
		{"rate too low for a Duration", 1e-12, 0.001, 1, 1000, 0, idleWait},
		{"lowest valid rate over the most tasks", minRate / 10000, 1, 1, 1000, 0, idleWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, wait := throttle(tt.rate, tt.elapsed, tt.emitted, tt.n)
			require.Equal(t, tt.want, got)
			if tt.want > 0 {
				return
			}
			require.GreaterOrEqual(t, wait, time.Millisecond, "a positive wait, no busy loop")
			require.LessOrEqual(t, wait, tt.wait)
		})
	}
}
