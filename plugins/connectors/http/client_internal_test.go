package httpconn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestErrorsHideUserInfo: a request that cannot be built says why without quoting the password
// (url.Parse's own error quotes the whole URL).
func TestRequestErrorsHideUserInfo(t *testing.T) {
	v, err := sinkSpec.Parse(map[string]string{"url": "https://example.com"})
	require.NoError(t, err)
	r, err := newRequester(v, 1)
	require.NoError(t, err)
	defer r.close()
	for _, u := range []string{"https://svc:Q7%zz@api.example.com/hook", "https://svc:Q7/zz@api.example.com/hook"} {
		res := r.do(context.Background(), &request{method: "POST", url: u, body: []byte("{}")}, false, 0)
		require.ErrorIs(t, res.err, ErrRender, u)
		require.False(t, res.retriable)
		require.NotContains(t, res.err.Error(), "Q7", u)
		require.NotContains(t, res.err.Error(), "zz", u)
		require.Contains(t, res.err.Error(), "user info", u)
	}
}

func TestHidePassword(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/x?a=b", "https://api.example.com/x?a=b"},
		{"https://svc@api.example.com/x", "https://svc@api.example.com/x"},
		{"https://svc:pw@api.example.com/x/${value.id}?q=${key}", "https://svc:xxxxx@api.example.com/x/${value.id}?q=${key}"},
		{"https://api.example.com/users/a@b:c", "https://api.example.com/users/a@b:c"}, // an '@' in the path
		{"https://svc:p%zz@api.example.com/x", "https://svc:xxxxx@api.example.com/x"},
		{"https://svc:p/q?r#s@api.example.com/x", "https://svc:xxxxx@api.example.com/x"},
		{"no scheme:pw@x", "no scheme:pw@x"},
	} {
		require.Equal(t, tc.want, hidePassword(tc.in), tc.in)
	}
}
