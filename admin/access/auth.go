package access

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// DefaultRealm is the basic-auth realm NewBasicAuth announces when given none.
const DefaultRealm = "rmqconnect"

// MaxUserCost is the highest bcrypt cost LoadUsers accepts: a request whose credentials are not in the
// verified cache runs one comparison, and each step doubles its time (10, htpasswd's default, takes tens of
// milliseconds; 14 about a second).
const MaxUserCost = 14

// maxVerified bounds the cache of verified credentials; when full it is emptied and refilled.
const maxVerified = 1024

// BasicAuth checks HTTP basic-auth credentials against bcrypt hashes. Its cost before a request is
// authenticated is bounded:
//   - a request without credentials is refused at once, with no bcrypt work;
//   - credentials verified once are remembered (keyed by an HMAC, under a key made at start, of the user
//     and password: the cache holds no password and no fast hash of one), so a client sending the same
//     valid credentials again costs one HMAC, not one bcrypt comparison;
//   - at most Concurrency comparisons run at once; the others wait (or give up with their request), so
//     wrong passwords can keep at most that many cores busy.
//
// An unknown user is compared against a dummy hash of the users' highest cost, so a refusal takes as long
// for an unknown user as for a wrong password and does not tell which users exist.
type BasicAuth struct {
	users     map[string][]byte
	dummy     []byte
	challenge string
	log       *slog.Logger
	fail      ErrorWriter
	key       [32]byte
	sem       chan struct{}

	mu       sync.Mutex
	verified map[[32]byte]struct{}

	// compare is bcrypt.CompareHashAndPassword; tests count and gate it.
	compare func(hash, password []byte) error
	// waiting counts requests queued for a comparison slot; tests read it.
	waiting func(delta int)
}

// NewBasicAuth returns a checker for users, a user name → bcrypt hash map (LoadUsers reads one from a
// file); realm is announced in WWW-Authenticate (DefaultRealm when empty) and fail writes the 401.
// Concurrency bounds simultaneous bcrypt comparisons (GOMAXPROCS/2, at least 1, when <= 0).
func NewBasicAuth(users map[string][]byte, realm string, concurrency int, log *slog.Logger, fail ErrorWriter) *BasicAuth {
	if realm == "" {
		realm = DefaultRealm
	}
	if concurrency <= 0 {
		concurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	a := &BasicAuth{users: maps.Clone(users), log: log, fail: fail, sem: make(chan struct{}, concurrency),
		verified: map[[32]byte]struct{}{}, compare: bcrypt.CompareHashAndPassword, waiting: func(int) {}}
	cost := 0
	for _, h := range a.users {
		if c, err := bcrypt.Cost(h); err == nil && c > cost {
			cost = c
		}
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	// The dummy password exceeds no bcrypt limit and the cost is valid, so this cannot fail; a nil dummy
	// would still make the comparison fail fast, which is safe, only faster.
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("rmqconnect-no-such-user"), cost)
	_, _ = rand.Read(a.key[:])
	a.challenge = `Basic realm=` + quote(realm) + `, charset="UTF-8"`
	return a
}

// Wrap requires valid credentials for every request open does not let through (open may be nil). A request
// without credentials, or with an unknown user or a wrong password, is a 401 with
// `WWW-Authenticate: Basic realm="<realm>"`; the three cases answer alike.
func (a *BasicAuth) Wrap(next http.Handler, open func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open != nil && open(r) {
			next.ServeHTTP(w, r)
			return
		}
		if a.Check(r.Context(), r) {
			next.ServeHTTP(w, r)
			return
		}
		a.log.Debug("request refused: bad or missing credentials", "path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", a.challenge)
		a.fail(w, http.StatusUnauthorized, "authentication required: send valid basic-auth credentials")
	})
}

// Check reports whether r carries the credentials of a user.
func (a *BasicAuth) Check(ctx context.Context, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false // nothing to compare: no bcrypt work for a request without credentials
	}
	mac := hmac.New(sha256.New, a.key[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(pass))
	var id [32]byte
	copy(id[:], mac.Sum(nil))
	a.mu.Lock()
	_, seen := a.verified[id]
	a.mu.Unlock()
	if seen {
		return true
	}
	hash, known := a.users[user]
	if !known {
		hash = a.dummy
	}
	a.waiting(1)
	select {
	case a.sem <- struct{}{}:
		a.waiting(-1)
	case <-ctx.Done():
		a.waiting(-1)
		return false
	}
	match := a.compare(hash, []byte(pass)) == nil
	<-a.sem
	if !known || !match {
		return false
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerified {
		clear(a.verified)
	}
	a.verified[id] = struct{}{}
	a.mu.Unlock()
	return true
}

// quote makes a quoted-string (RFC 9110) of s.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// LoadUsers reads a users file for NewBasicAuth: one `user:bcrypt-hash` per line (as
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
