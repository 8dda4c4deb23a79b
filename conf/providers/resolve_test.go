package providers

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

const secretsFile = `# database credentials
password = s3cr3t
user: app
url=jdbc:mysql://db/app?x=${y}
multi = one \
        two
empty =
`

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "db.properties")
	require.NoError(t, os.WriteFile(props, []byte(secretsFile), 0o600))
	token := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(token, []byte("  tok-123\n\n"), 0o600))
	t.Setenv("RMQC_TEST_USER", "alice")
	t.Setenv("RMQC_TEST_EMPTY", "")

	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "file-source", "file-source"},
		{"env", "${env:RMQC_TEST_USER}", "alice"},
		{"env empty", "${env:RMQC_TEST_EMPTY}", ""},
		{"env inside", "user=${env:RMQC_TEST_USER};", "user=alice;"},
		{"file key", "${file:" + props + ":password}", "s3cr3t"},
		{"file key colon separator", "${file:" + props + ":user}", "app"},
		{"file key continued line", "${file:" + props + ":multi}", "one two"},
		{"file key empty", "${file:" + props + ":empty}", ""},
		{"file key not expanded by the properties library", "${file:" + props + ":url}", "jdbc:mysql://db/app?x=${y}"},
		{"whole file trimmed", "${file:" + token + "}", "tok-123"},
		{"several", "${env:RMQC_TEST_USER}:${file:" + props + ":password}@h", "alice:s3cr3t@h"},
		{"escape", "$${env:RMQC_TEST_USER}", "${env:RMQC_TEST_USER}"},
		{"escape then placeholder", "$${x}${env:RMQC_TEST_USER}", "${x}alice"},
		{"not a placeholder", "${topic}-${timestamp}", "${topic}-${timestamp}"},
		{"dollars", "$5 and $", "$5 and $"},
	}
	cfg := map[string]string{}
	for _, tt := range tests {
		cfg[tt.name] = tt.in
	}
	orig := map[string]string{}
	for k, v := range cfg {
		orig[k] = v
	}
	out, err := Resolve(cfg)
	require.NoError(t, err)
	for _, tt := range tests {
		require.Equal(t, tt.want, out[tt.name], tt.name)
	}
	require.Len(t, out, len(tests))
	require.Equal(t, orig, cfg, "the input is not modified")
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "db.properties")
	require.NoError(t, os.WriteFile(props, []byte("password=s3cr3t\n"), 0o600))
	bad := filepath.Join(dir, "bad.properties")
	require.NoError(t, os.WriteFile(bad, []byte("k=\\uZZZZ hunter2\n"), 0o600))
	missing := filepath.Join(dir, "nope")
	t.Setenv("RMQC_TEST_SECRET", "hunter2")

	tests := []struct {
		name     string
		value    string
		sentinel error
		inMsg    []string
	}{
		{"unknown provider", "${vault:secret/db}", ErrUnknownProvider, []string{`"vault"`, "${vault:secret/db}"}},
		{"provider is case sensitive", "${ENV:HOME}", ErrUnknownProvider, []string{`"ENV"`}},
		{"missing env", "${env:RMQC_TEST_DOES_NOT_EXIST}", ErrNotFound, []string{"environment variable RMQC_TEST_DOES_NOT_EXIST is not set"}},
		{"empty env name", "${env:}", ErrSyntax, []string{"empty variable name"}},
		{"missing file", "${file:" + missing + ":k}", ErrNotFound, []string{missing, "does not exist"}},
		{"missing whole file", "${file:" + missing + "}", ErrNotFound, []string{"does not exist"}},
		{"missing key", "${file:" + props + ":user}", ErrNotFound, []string{"key user not in file " + props}},
		{"empty key", "${file:" + props + ":}", ErrSyntax, []string{"empty key"}},
		{"empty path", "${file::k}", ErrSyntax, []string{"empty file path"}},
		{"bad properties", "${file:" + bad + ":k}", ErrNotFound, []string{"not a valid properties file"}},
		{"unterminated", "x ${env:RMQC_TEST_SECRET", ErrSyntax, []string{"no closing"}},
		{"second placeholder fails", "${env:RMQC_TEST_SECRET}${env:RMQC_TEST_DOES_NOT_EXIST}", ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Resolve(map[string]string{"conn.secret.value": tt.value, "ok": "fine"})
			require.Nil(t, out)
			require.ErrorIs(t, err, tt.sentinel)
			var pe *cfgerr.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "conn.secret.value", pe.Key)
			msg := err.Error()
			require.Contains(t, msg, "conn.secret.value")
			for _, s := range tt.inMsg {
				require.Contains(t, msg, s)
			}
			require.NotContains(t, msg, "hunter2", "no resolved value or file content in errors")
			require.NotContains(t, msg, "s3cr3t")
		})
	}
}

func TestResolveReportsEveryKeyInOrder(t *testing.T) {
	_, err := Resolve(map[string]string{
		"b": "${env:RMQC_TEST_DOES_NOT_EXIST}",
		"a": "${nope:x}",
		"c": "fine",
	})
	var es cfgerr.List
	require.ErrorAs(t, err, &es)
	require.Len(t, es, 2)
	require.Equal(t, "a", es[0].Key)
	require.Equal(t, "b", es[1].Key)
	require.ErrorIs(t, err, ErrUnknownProvider)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestResolveReadsEachFileOnce(t *testing.T) {
	reads := map[string]int{}
	r := Resolver{ReadFile: func(path string) ([]byte, error) {
		reads[path]++
		if path == "/missing" {
			return nil, fs.ErrNotExist
		}
		if path == "/denied" {
			return nil, fs.ErrPermission
		}
		return []byte("a=1\nb=2\n"), nil
	}}
	out, err := r.Resolve(map[string]string{"x": "${file:/p:a}", "y": "${file:/p:b}", "z": "${file:/p:a}${file:/p:b}"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x": "1", "y": "2", "z": "12"}, out)
	require.Equal(t, map[string]int{"/p": 1}, reads)

	_, err = r.Resolve(map[string]string{"x": "${file:/missing:a}", "y": "${file:/missing:b}", "d": "${file:/denied}"})
	require.Equal(t, 1, reads["/missing"])
	require.ErrorContains(t, err, "file /denied cannot be read")
	require.ErrorContains(t, err, "file /missing does not exist")
	require.False(t, errors.Is(err, fs.ErrNotExist), "the os error is described, not wrapped")
}

func TestResolveCustomEnv(t *testing.T) {
	r := Resolver{LookupEnv: func(name string) (string, bool) { return "v-" + name, name != "GONE" }}
	out, err := r.Resolve(map[string]string{"k": "${env:A}/${env:B}"})
	require.NoError(t, err)
	require.Equal(t, "v-A/v-B", out["k"])
	_, err = r.Resolve(map[string]string{"k": "${env:GONE}"})
	require.ErrorIs(t, err, ErrNotFound)
}

func TestResolveEmptyAndNil(t *testing.T) {
	out, err := Resolve(nil)
	require.NoError(t, err)
	require.Empty(t, out)
	out, err = Resolve(map[string]string{})
	require.NoError(t, err)
	require.Empty(t, out)
}

func TestRestore(t *testing.T) {
	raw := map[string]string{
		"connection.password": "${env:DB_PASSWORD}",
		"connection.url":      "jdbc:mysql://db/app?user=${env:DB_USER}",
		"table":               "orders",
		"escaped":             "$${env:X}",
	}
	task := map[string]string{
		"connection.password": "hunter2",
		"connection.url":      "jdbc:mysql://db/app?user=alice",
		"table":               "orders",
		"escaped":             "${env:X}",
		"task.id":             "0",
	}
	got := Restore(raw, task)
	require.Equal(t, map[string]string{
		"connection.password": "${env:DB_PASSWORD}",
		"connection.url":      "jdbc:mysql://db/app?user=${env:DB_USER}",
		"table":               "orders",
		"escaped":             "$${env:X}",
		"task.id":             "0",
	}, got)
	require.Equal(t, "hunter2", task["connection.password"], "the input is not modified")
}

// A task config restored and then resolved (as the task's start does) gives the connector's literal
// values back — an escaped placeholder, a value read from data that looks like one, text with "$" and
// "$${" — and the restored placeholders' values. The literals were resolved again: the task got the
// environment variable an escaped "$${env:X}" named.
func TestRestoredTaskResolvesToTheConnectorsValues(t *testing.T) {
	r := Resolver{LookupEnv: func(k string) (string, bool) {
		return map[string]string{"X": "s3cret", "DB_PASSWORD": "hunter2"}[k], k == "X" || k == "DB_PASSWORD"
	}}
	raw := map[string]string{"q": "$${env:X}", "connection.password": "${env:DB_PASSWORD}", "tables": "orders"}
	conn, err := r.Resolve(raw)
	require.NoError(t, err)
	require.Equal(t, "${env:X}", conn["q"])
	task := maps.Clone(conn)
	task["task.tables"] = "orders,${env:X},a$b,c$${d}"
	got, err := r.Resolve(Restore(raw, task))
	require.NoError(t, err)
	require.Equal(t, task, got)
}

func TestResolveSecrets(t *testing.T) {
	r := Resolver{LookupEnv: func(name string) (string, bool) { return "v-" + name, true },
		ReadFile: func(string) ([]byte, error) { return []byte("pw=hunter2\n"), nil }}
	out, values, err := r.ResolveSecrets(map[string]string{"a": "x${env:A}y", "b": "${file:/p:pw}", "c": "${env:A}", "d": "plain"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "xv-Ay", "b": "hunter2", "c": "v-A", "d": "plain"}, out)
	require.ElementsMatch(t, []string{"v-A", "hunter2"}, values)
	out, values, err = r.ResolveSecrets(map[string]string{"a": "${nope:x}"})
	require.Error(t, err)
	require.Nil(t, out)
	require.Nil(t, values)
}
