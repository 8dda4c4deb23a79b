package transforms

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TestJavaLayoutZoneNames checks that parsing with pattern letter z reads UTC and GMT, and refuses every other
// zone name instead of reading its wall clock as UTC (SimpleDateFormat reads "03:04:05 PST" as 11:04:05Z).
func TestJavaLayoutZoneNames(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for pattern, ok := range map[string]map[string]time.Time{
		"yyyy-MM-dd HH:mm:ss z": {
			"2024-01-02 03:04:05 UTC": at,
			"2024-01-02 03:04:05 GMT": at,
		},
		"yyyy-MM-dd HH:mm:ss XXX": {"2024-01-02 03:04:05 -08:00": at.Add(8 * time.Hour)},
		"yyyy-MM-dd HH:mm:ss Z":   {"2024-01-02 03:04:05 -0800": at.Add(8 * time.Hour)},
		// With a numeric offset as well, the offset decides and the name is only a label.
		"yyyy-MM-dd HH:mm:ss z Z": {"2024-01-02 03:04:05 PST -0800": at.Add(8 * time.Hour)},
	} {
		l, err := parseJavaLayout(pattern)
		require.NoError(t, err, pattern)
		for in, want := range ok {
			got, err := l.parse(in)
			require.NoError(t, err, in)
			require.True(t, want.Equal(got), "%s: want %s, got %s", in, want, got)
		}
	}

	l, err := parseJavaLayout("yyyy-MM-dd HH:mm:ss z")
	require.NoError(t, err)
	for in, name := range map[string]string{
		"2024-01-02 03:04:05 PST":   "PST",
		"2024-01-02 03:04:05 CEST":  "CEST",
		"2024-01-02 03:04:05 GMT+3": "GMT+3", // Go reads the wall clock as UTC and labels it +03:00
		"2024-01-02 03:04:05 +03":   "+03",
	} {
		_, err := l.parse(in)
		require.Error(t, err, in)
		require.ErrorContains(t, err, `"`+name+`"`, in)
		require.ErrorContains(t, err, "XXX", in)
	}

	// Formatting with z is unchanged: times are written in UTC.
	require.Equal(t, "2024-01-02 03:04:05 UTC", l.format(at.In(time.FixedZone("PST", -8*3600))))
}

// TestTimestampConverterZoneName shows the unresolved zone name failing the record (for errors.tolerance) rather
// than shifting it.
func TestTimestampConverterZoneName(t *testing.T) {
	tr := newTransform(t, "TimestampConverter$Value", map[string]string{"target.type": "unix", "format": "yyyy-MM-dd HH:mm:ss z"})
	_, err := tr.Apply(valueSide.with(baseRecord(), schema.StringSchema, "2024-01-02 03:04:05 PST"))
	require.ErrorIs(t, err, ErrUnsupportedValue)
	require.ErrorContains(t, err, `"PST"`)

	out, err := tr.Apply(valueSide.with(baseRecord(), schema.StringSchema, "2024-01-02 03:04:05 UTC"))
	require.NoError(t, err)
	require.Equal(t, recTime.UnixMilli(), out.Value)
}

// TestJavaLayoutLiteralsStayText checks that a pattern whose literal text Go would read as a date element ("_" before
// d is Go's space-padded day, 'Mon' its weekday) is refused with the pattern named, since Go would write yyyy_M_d
// as "2024_1 2"; patterns whose text stays text keep working.
func TestJavaLayoutLiteralsStayText(t *testing.T) {
	for _, bad := range []string{"yyyy_M_d", "'Mon:' MM", "HH:mm 'PM'", "yyyy 'MST'"} {
		_, err := parseJavaLayout(bad)
		require.ErrorContains(t, err, "would be read as a date field", bad)
		require.ErrorContains(t, err, bad, bad)
	}
	at := time.Date(2024, 1, 2, 15, 4, 5, 6e6, time.UTC)
	for pattern, want := range map[string]string{
		"yyyy_MM_dd": "2024_01_02", "yyyy_M": "2024_1", "d_M_yyyy": "2_1_2024", "'week of' yyyy": "week of 2024",
		"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'": "2024-01-02T15:04:05.006Z", "EEE MMM d HH:mm:ss z yyyy": "Tue Jan 2 15:04:05 UTC 2024",
	} {
		l, err := parseJavaLayout(pattern)
		require.NoError(t, err, pattern)
		require.Equal(t, want, l.format(at), pattern)
		back, err := l.parse(want)
		require.NoError(t, err, pattern)
		require.Equal(t, want, l.format(back), pattern)
	}

	tr, err := Builtins().NewTransform("TimestampRouter")
	require.NoError(t, err)
	err = tr.Configure(map[string]string{"timestamp.format": "yyyy_M_d"})
	var ce *cfgerr.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "timestamp.format", ce.Key)
}
