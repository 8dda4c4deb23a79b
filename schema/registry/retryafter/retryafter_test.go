package retryafter_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema/registry/retryafter"
)

var now = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC) // a Friday

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		want    time.Duration
	}{
		{"absent", "", 0},
		{"blank", "  ", 0},

		{"seconds", "120", 2 * time.Minute},
		{"seconds with spaces", " 7 ", 7 * time.Second},
		{"zero seconds", "0", 0},
		{"negative seconds", "-5", 0},
		{"fraction", "1.5", 0},
		{"unit", "5s", 0},
		{"hex", "0x10", 0},
		{"word", "soon", 0},

		{"longest seconds a Duration holds", "9223372036", 9223372036 * time.Second},
		{"seconds past a Duration", "9223372037", math.MaxInt64},
		{"largest int64", "9223372036854775807", math.MaxInt64},
		{"digits beyond int64", "99999999999999999999", 0},

		{"IMF-fixdate", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"RFC 850 date", "Friday, 01-Mar-24 12:01:30 GMT", 90 * time.Second},
		{"asctime date", "Fri Mar  1 12:01:30 2024", 90 * time.Second},
		{"date is now", now.Format(http.TimeFormat), 0},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"date past a Duration", "Fri, 31 Dec 9999 23:59:59 GMT", math.MaxInt64},
		{"date with a misspelt month", "Fri, 01 Mrz 2024 12:01:30 GMT", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, retryafter.Parse(tc.v, now))
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "99999999999999999999", "Fri, 01 Mar 2024 12:01:30 GMT",
		"Friday, 01-Mar-24 12:01:30 GMT", "Fri Mar  1 12:01:30 2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		require.GreaterOrEqual(t, retryafter.Parse(v, now), time.Duration(0))
	})
}
