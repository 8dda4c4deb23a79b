package providers

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// render writes segments back in their written form: the inverse of parse up to escapes.
func render(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.ph != nil {
			b.WriteString(s.ph.raw)
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

func TestParse(t *testing.T) {
	type ph struct{ provider, arg string }
	tests := []struct {
		in      string
		lits    []string // literal segments in order
		phs     []ph
		wantErr bool
	}{
		{in: ""},
		{in: "plain", lits: []string{"plain"}},
		{in: "${env:A}", phs: []ph{{"env", "A"}}},
		{in: "x${env:A}y${file:/p:k}z", lits: []string{"x", "y", "z"}, phs: []ph{{"env", "A"}, {"file", "/p:k"}}},
		{in: "${file:/run/secret}", phs: []ph{{"file", "/run/secret"}}},
		{in: "${file:/p:a:b}", phs: []ph{{"file", "/p:a:b"}}},
		{in: "${env:}", phs: []ph{{"env", ""}}},
		{in: "${my-prov.v2:x}", phs: []ph{{"my-prov.v2", "x"}}},
		{in: "${env:A}${env:B}", phs: []ph{{"env", "A"}, {"env", "B"}}},
		// Not placeholders: no provider, no colon, a space in the name.
		{in: "${topic}-${timestamp}", lits: []string{"${topic}-${timestamp}"}},
		{in: "${:x}", lits: []string{"${:x}"}},
		{in: "${a b:c}", lits: []string{"${a b:c}"}},
		{in: "$", lits: []string{"$"}},
		{in: "${", lits: []string{"${"}},
		{in: "$$", lits: []string{"$$"}},
		{in: "cost: $5 {x}", lits: []string{"cost: $5 {x}"}},
		// Escapes.
		{in: "$${env:A}", lits: []string{"${env:A}"}},
		{in: "a$${b}c", lits: []string{"a${b}c"}},
		{in: "$$${env:A}", lits: []string{"$${env:A}"}},
		{in: "$${env:A}${env:B}", lits: []string{"${env:A}"}, phs: []ph{{"env", "B"}}},
		// The first '}' closes: no nesting.
		{in: "${env:${env:A}}", lits: []string{"}"}, phs: []ph{{"env", "${env:A"}}},
		// Unterminated.
		{in: "${env:A", wantErr: true},
		{in: "ok ${file:/p:k", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			segs, err := parse(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrSyntax)
				return
			}
			require.NoError(t, err)
			var lits []string
			var phs []ph
			for _, s := range segs {
				if s.ph != nil {
					phs = append(phs, ph{s.ph.provider, s.ph.arg})
					require.Empty(t, s.text)
				} else {
					require.NotEmpty(t, s.text, "no empty literal segments")
					lits = append(lits, s.text)
				}
			}
			require.Equal(t, tt.lits, lits)
			require.Equal(t, tt.phs, phs)
		})
	}
}

func TestParseErrorHidesValue(t *testing.T) {
	_, err := parse("${env:hunter2-literal-text")
	require.ErrorIs(t, err, ErrSyntax)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestHasPlaceholder(t *testing.T) {
	require.True(t, HasPlaceholder("${env:A}"))
	require.True(t, HasPlaceholder("jdbc:x?p=${file:/p:k}"))
	require.False(t, HasPlaceholder("$${env:A}"))
	require.False(t, HasPlaceholder("${topic}"))
	require.False(t, HasPlaceholder("${env:A"))
	require.False(t, HasPlaceholder("plain"))
}

// FuzzParse checks the placeholder parser on arbitrary values: it never panics, what it
// returns writes back to the input (with "$${" undone to "${"), and Resolve and Mask agree
// with it. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "${env:A}", "$${env:A}", "x${file:/p:k}y", "${topic}", "${env:A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		segs, err := parse(in)
		r := Resolver{
			LookupEnv: func(name string) (string, bool) { return "E", true },
			ReadFile:  func(path string) ([]byte, error) { return []byte("k=F\n"), nil },
		}
		out, rerr := r.Resolve(map[string]string{"k": in})
		masked := Mask(map[string]string{"password": in, "plain": in}, nil)
		require.Equal(t, in, masked["plain"], "a non-secret value is shown as written")
		if err != nil {
			require.ErrorIs(t, err, ErrSyntax)
			require.Error(t, rerr)
			require.False(t, HasPlaceholder(in))
			return
		}
		if !strings.Contains(in, "$${") {
			require.Equal(t, in, render(segs))
		}
		for _, s := range segs {
			if s.ph != nil {
				require.True(t, strings.HasPrefix(s.ph.raw, "${"+s.ph.provider+":"))
				require.True(t, strings.HasSuffix(s.ph.raw, "}"))
				require.NotContains(t, s.ph.arg, "}")
				require.NotEmpty(t, s.ph.provider)
			}
		}
		// What Resolve must produce, computed from the segments alone.
		var want strings.Builder
		wantErr := false
		for _, s := range segs {
			if s.ph == nil {
				want.WriteString(s.text)
				continue
			}
			switch path, key, hasKey := strings.Cut(s.ph.arg, ":"); {
			case s.ph.provider == "env" && s.ph.arg != "":
				want.WriteString("E")
			case s.ph.provider == "file" && path != "" && !hasKey:
				want.WriteString("k=F")
			case s.ph.provider == "file" && path != "" && key == "k":
				want.WriteString("F")
			default:
				wantErr = true
			}
		}
		if wantErr {
			var pe *cfgerr.Error
			require.ErrorAs(t, rerr, &pe)
			require.Equal(t, "k", pe.Key)
			require.Nil(t, out)
		} else {
			require.NoError(t, rerr)
			require.Equal(t, want.String(), out["k"])
		}
		if masked["password"] != Hidden {
			require.True(t, onlyPlaceholders(in))
		}
	})
}
