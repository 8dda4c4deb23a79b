package access

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func hashOf(t *testing.T, password string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return h
}

func writeUsers(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadUsers(t *testing.T) {
	alice, bob := hashOf(t, "a"), hashOf(t, "b")
	users, err := LoadUsers(writeUsers(t, "# admins\n\nalice:"+string(alice)+"\r\n  bob : "+string(bob)+"  \n"))
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"alice": alice, "bob": bob}, users)
	require.NoError(t, bcrypt.CompareHashAndPassword(users["bob"], []byte("b")))

	// htpasswd writes $2y$; Go's bcrypt reads it.
	y := strings.Replace(string(alice), "$2a$", "$2y$", 1)
	users, err = LoadUsers(writeUsers(t, "alice:"+y+"\n"))
	require.NoError(t, err)
	require.NoError(t, bcrypt.CompareHashAndPassword(users["alice"], []byte("a")))
}

func TestLoadUsersErrors(t *testing.T) {
	good := string(hashOf(t, "a"))
	costly := strings.Replace(good, "$04$", "$15$", 1)
	cases := []struct{ name, content, want string }{
		{"no colon", "# c\nalice\n", "line 2: want user:bcrypt-hash"},
		{"empty user", ":" + good + "\n", "line 1: empty user name"},
		{"no hash", "alice:\n", `line 1: user "alice" has no password hash`},
		{"plain password", "alice:ok\nbob:hunter2hunter2hunter2hunter2hunter2hunter2hunter2hunter2hunter2\n", `line 1: user "alice": the password is not a bcrypt hash`},
		{"sha1 htpasswd", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", `line 1: user "alice": the password is not a bcrypt hash`},
		{"duplicate", "alice:" + good + "\nalice:" + good + "\n", `line 2: user "alice" appears twice`},
		{"too costly", "alice:" + costly + "\n", `line 1: user "alice": bcrypt cost 15 is above 14`},
		{"empty", "# nobody\n\n", "no users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadUsers(writeUsers(t, c.content))
			require.ErrorContains(t, err, c.want)
			require.NotContains(t, err.Error(), good[7:], "an error never shows a hash")
			require.NotContains(t, err.Error(), "hunter2")
			require.NotContains(t, err.Error(), "W6ph5Mm5")
		})
	}
	_, err := LoadUsers(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
