package plugins

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

func testSpec(t *testing.T) *ConfigSpec {
	t.Helper()
	s, err := NewConfigSpec(
		Field{Name: "file.path", Type: TypeString, Required: true, Validators: []Validator{NonEmpty()}, Doc: "File to read."},
		Field{Name: "max.tasks", Type: TypeInt, Default: "1", Validators: []Validator{Between(1, 100)}, Aliases: []string{"tasks.max"}},
		Field{Name: "batch.size", Type: TypeLong, Default: int64(500), Validators: []Validator{AtLeast(1)}},
		Field{Name: "ratio", Type: TypeDouble, Default: 0.5},
		Field{Name: "enabled", Type: TypeBoolean, Default: true},
		Field{Name: "topics", Type: TypeList, Default: []string{"a"}, Validators: []Validator{MatchesRegex(`[a-z]+`)}},
		Field{Name: "password", Type: TypePassword, Default: "s3cret"},
		Field{Name: "token", Type: TypeString, Secret: true, Validators: []Validator{MatchesRegex(`[0-9]+`)}},
		Field{Name: "poll.interval", Type: TypeDuration, Default: "1s", Validators: []Validator{DurationBetween(time.Millisecond, time.Hour)}},
		Field{Name: "mode", Type: TypeString, Default: "bulk", Validators: []Validator{OneOf("bulk", "incrementing")}},
		Field{Name: "connector.class", Type: TypeClass},
		Field{Name: "pattern", Type: TypeString, Validators: []Validator{IsRegex()}},
		Field{Name: "even", Type: TypeInt, Validators: []Validator{Custom("an even number", func(v any) error {
			if v.(int)%2 != 0 {
				return errors.New("must be even")
			}
			return nil
		})}},
	)
	require.NoError(t, err)
	return s
}

func TestParseDefaultsAndTypes(t *testing.T) {
	s := testSpec(t)
	v, err := s.Parse(map[string]string{"file.path": "/tmp/x", "tasks.max": " 4 ", "poll.interval": "250",
		"topics": "x, y,,z", "connector.class": " file-source ", "enabled": "FALSE", "even": "2", "pattern": "a.*"})
	require.NoError(t, err)
	require.Equal(t, "/tmp/x", v.String("file.path"))
	require.Equal(t, 4, v.Int("max.tasks"))
	require.True(t, v.IsSet("max.tasks"))
	require.Equal(t, int64(500), v.Long("batch.size"))
	require.False(t, v.IsSet("batch.size"))
	require.Equal(t, 0.5, v.Double("ratio"))
	require.False(t, v.Bool("enabled"))
	require.Equal(t, []string{"x", "y", "z"}, v.List("topics"))
	require.Equal(t, "s3cret", v.Password("password").Value())
	require.Equal(t, HiddenValue, v.Password("password").String())
	require.Equal(t, 250*time.Millisecond, v.Duration("poll.interval"))
	require.Equal(t, "bulk", v.String("mode"))
	require.Equal(t, "file-source", v.String("connector.class"))
	_, ok := v.Get("token")
	require.False(t, ok)
	require.Equal(t, 2, v.Int("even"))
	require.Zero(t, v.Int("no.such.key"))
}

func TestParseReturnsAllErrors(t *testing.T) {
	s := testSpec(t)
	_, err := s.Parse(map[string]string{
		"max.tasks": "1000", "batch.size": "x", "ratio": "NaN", "enabled": "yes", "topics": "a,B",
		"token": "abc", "poll.interval": "2h", "mode": "other", "pattern": "(", "even": "3", "password": "",
	})
	require.Error(t, err)
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.ErrorIs(t, err, ErrMissingRequired)
	require.ErrorIs(t, err, ErrInvalidValue)
	fes := cfgerr.Flatten(err)
	keys := make([]string, len(fes))
	for i, fe := range fes {
		keys[i] = fe.Key
	}
	require.Equal(t, []string{"batch.size", "enabled", "even", "file.path", "max.tasks", "mode", "pattern",
		"poll.interval", "ratio", "token", "topics"}, keys)
	msg := err.Error()
	require.Contains(t, msg, `max.tasks: must be between 1 and 100 (value "1000")`)
	require.Contains(t, msg, `token: does not match [0-9]+ (value "[hidden]")`)
	require.NotContains(t, msg, "abc")
	require.Contains(t, msg, "file.path: missing required configuration")
	require.Contains(t, msg, `mode: "other" is not one of bulk, incrementing`)
	require.Contains(t, msg, "even: must be even")
	var fe *cfgerr.Error
	require.ErrorAs(t, err, &fe)
}

func TestParseAliasConflict(t *testing.T) {
	s := testSpec(t)
	_, err := s.Parse(map[string]string{"file.path": "p", "max.tasks": "2", "tasks.max": "3"})
	require.ErrorIs(t, err, ErrConflictingKeys)
	require.Contains(t, err.Error(), "tasks.max")
	v, err := s.Parse(map[string]string{"file.path": "p", "max.tasks": "2", "tasks.max": "2"})
	require.NoError(t, err)
	require.Equal(t, 2, v.Int("max.tasks"))
}

func TestNewConfigSpecRejectsBadSpecs(t *testing.T) {
	cases := map[string][]Field{
		"no name":      {{Type: TypeString}},
		"bad type":     {{Name: "a", Type: "FLOAT"}},
		"dup name":     {{Name: "a", Type: TypeString}, {Name: "a", Type: TypeInt}},
		"dup alias":    {{Name: "a", Type: TypeString, Aliases: []string{"b"}}, {Name: "b", Type: TypeInt}},
		"bad default":  {{Name: "a", Type: TypeInt, Default: "x"}},
		"typed wrong":  {{Name: "a", Type: TypeInt, Default: 1.5}},
		"fails check":  {{Name: "a", Type: TypeInt, Default: 0, Validators: []Validator{AtLeast(1)}}},
		"list default": {{Name: "a", Type: TypeList, Default: 3}},
	}
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewConfigSpec(fields...)
			require.ErrorIs(t, err, ErrInvalidSpec)
		})
	}
	require.Panics(t, func() { MustConfigSpec(Field{Name: "a", Type: "X"}) })
}

func TestNilSpec(t *testing.T) {
	var s *ConfigSpec
	v, err := s.Parse(map[string]string{"a": "b"})
	require.NoError(t, err)
	require.False(t, v.IsSet("a"))
	require.Nil(t, s.Fields())
	require.Contains(t, s.Markdown(), "| Key |")
}

func TestMarkdown(t *testing.T) {
	md := testSpec(t).Markdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	require.Len(t, lines, 2+13)
	require.Equal(t, "| `file.path` | STRING |  | yes | non-empty | File to read. |", lines[2])
	require.Equal(t, "| `max.tasks` | INT | `1` | no | [1, ..., 100] | Aliases: `tasks.max`. |", lines[3])
	require.Contains(t, md, "| `password` | PASSWORD | [hidden] | no |")
	require.Contains(t, md, "`1s`")
	require.Contains(t, md, "one of bulk, incrementing")
}

func TestPrefixKeys(t *testing.T) {
	s := testSpec(t)
	_, err := s.Parse(map[string]string{"max.tasks": "0"})
	err = cfgerr.Prefix(err, "transforms.a.")
	fes := cfgerr.Flatten(err)
	require.Len(t, fes, 2)
	require.Equal(t, "transforms.a.file.path", fes[0].Key)
	require.Equal(t, "transforms.a.max.tasks", fes[1].Key)
	require.NoError(t, cfgerr.Prefix(nil, "x."))
	plain := cfgerr.Prefix(errors.New("boom"), "transforms.b.")
	require.Equal(t, "transforms.b: boom", plain.Error())
	require.ErrorIs(t, plain, cfgerr.ErrInvalid)
}

func TestRetriable(t *testing.T) {
	base := errors.New("timeout")
	err := Retriable(base)
	require.True(t, IsRetriable(err))
	require.ErrorIs(t, err, base)
	require.True(t, IsRetriable(errors.Join(errors.New("x"), err)))
	require.False(t, IsRetriable(base))
	require.NoError(t, Retriable(nil))
	require.Equal(t, "retriable: timeout", err.Error())
}

func TestParseList(t *testing.T) {
	require.Equal(t, []string{}, ParseList(""))
	require.Equal(t, []string{"a", "b"}, ParseList(" a ,, b ,"))
}

func TestKindValid(t *testing.T) {
	require.True(t, KindSource.Valid())
	require.False(t, Kind("both").Valid())
}

// TestMaxLength: strings and every list item up to n bytes pass; a longer one is refused
// with the bound in the reason, and the validator documents itself.
func TestMaxLength(t *testing.T) {
	v := MaxLength(3)
	require.NoError(t, v.Validate("abc"))
	require.NoError(t, v.Validate([]string{"", "ab", "abc"}))
	require.EqualError(t, v.Validate("abcd"), "longer than 3 characters")
	require.EqualError(t, v.Validate([]string{"a", "abcd"}), "longer than 3 characters")
	require.Error(t, v.Validate(7))
	require.Equal(t, "at most 3 characters", v.(fmt.Stringer).String())
}

// A OneOf value is accepted in any case and given as the spec spells it, also in a list: code comparing it
// with the allowed spelling reads it right. A listen.auth of "Secret" was accepted and compared unequal to
// "secret", which left a webhook without authentication.
func TestOneOfValuesAreCanonical(t *testing.T) {
	spec := MustConfigSpec(
		Field{Name: "mode", Type: TypeString, Validators: []Validator{OneOf("listen", "poll")}},
		Field{Name: "flags", Type: TypeList, Validators: []Validator{OneOf("CASE_INSENSITIVE", "DOTALL")}},
		Field{Name: "plain", Type: TypeString},
	)
	vals, err := spec.Parse(map[string]string{"mode": "LISTEN", "flags": "dotall,Case_Insensitive", "plain": "Keep"})
	require.NoError(t, err)
	require.Equal(t, "listen", vals.String("mode"))
	require.Equal(t, []string{"DOTALL", "CASE_INSENSITIVE"}, vals.List("flags"))
	require.Equal(t, "Keep", vals.String("plain"), "a value without OneOf is kept as given")
	_, err = spec.Parse(map[string]string{"mode": "push"})
	require.ErrorContains(t, err, `"push" is not one of listen, poll`)
}
