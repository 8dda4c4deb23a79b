package admin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// DefaultRealm is the basic-auth realm EnableAuth announces when given none.
const DefaultRealm = "rmqconnect"

// MaxUserCost is the highest bcrypt cost LoadUsers accepts: every request runs one comparison,
// and each step doubles its time (10, htpasswd's default, takes tens of milliseconds; 14 about
// a second).
const MaxUserCost = 14

// healthPath stays open under auth: load balancers and orchestrators probe it without
// credentials, and it tells nothing beyond up/down, the worker id and the version.
const healthPath = "/health"

// EnableAuth requires HTTP basic auth on every route but /health: users maps a user name to
// the bcrypt hash of its password (LoadUsers reads them from a file). A request without
// credentials, or with an unknown user or a wrong password, is a 401 with
// `WWW-Authenticate: Basic realm="<realm>"` and the usual error body; the three cases answer
// alike. Every checked request costs one bcrypt comparison, also for an unknown user (against
// a dummy hash of the users' highest cost), so the answer time does not tell which users
// exist. Call it before Run.
func (s *Server) EnableAuth(users map[string][]byte, realm string) {
	if realm == "" {
		realm = DefaultRealm
	}
	users = maps.Clone(users) // the caller may reuse its map
	cost := 0
	for _, h := range users {
		if c, err := bcrypt.Cost(h); err == nil && c > cost {
			cost = c
		}
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	// The dummy password exceeds no bcrypt limit and the cost is valid, so this cannot fail;
	// a nil dummy would still make CompareHashAndPassword fail fast, which is safe, only faster.
	dummy, _ := bcrypt.GenerateFromPassword([]byte("rmqconnect-no-such-user"), cost)
	challenge := `Basic realm=` + quote(realm) + `, charset="UTF-8"`
	s.auth = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == healthPath {
				next.ServeHTTP(w, r)
				return
			}
			user, pass, ok := r.BasicAuth()
			hash, known := users[user]
			if !known {
				hash = dummy
			}
			// Compare even when there are no credentials or the user is unknown, so that every
			// refusal takes about as long as a wrong password.
			match := bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
			if ok && known && match {
				next.ServeHTTP(w, r)
				return
			}
			s.log.Debug("admin request refused: bad or missing credentials", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", challenge)
			writePlainError(w, http.StatusUnauthorized, "authentication required: send valid basic-auth credentials")
		})
	}
}

// quote makes a quoted-string (RFC 9110) of s.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// writePlainError writes the error body writeError writes, for handlers that run outside gin.
func writePlainError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]any{"error_code": status, "message": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// LoadUsers reads a users file for EnableAuth: one `user:bcrypt-hash` per line (as
// `htpasswd -nbB user password` prints it); blank lines and lines starting with '#' are
// skipped. A malformed line, a duplicate user or a file without users is an error naming the
// line; no error repeats a hash.
func LoadUsers(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("users file %s line %d: %s", path, n, fmt.Sprintf(format, args...))
		}
		user, hash, found := strings.Cut(line, ":")
		user, hash = strings.TrimSpace(user), strings.TrimSpace(hash)
		switch {
		case !found:
			return nil, bad("want user:bcrypt-hash")
		case user == "":
			return nil, bad("empty user name")
		case hash == "":
			return nil, bad("user %q has no password hash", user)
		}
		if _, dup := users[user]; dup {
			return nil, bad("user %q appears twice", user)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			// bcrypt's errors quote bytes of the hash; say what is wrong without them.
			return nil, bad("user %q: the password is not a bcrypt hash ($2a$, $2b$ or $2y$)", user)
		}
		if cost > MaxUserCost {
			return nil, bad("user %q: bcrypt cost %d is above %d, which would slow every request", user, cost, MaxUserCost)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users file %s: no users", path)
	}
	return users, nil
}
