package conf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLoadFormats(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	for name, body := range map[string]string{
		"w.yaml":       "workerId: w1\nnamesrvAddr: 127.0.0.1:19876;127.0.0.1:29876\nhttpPort: 18082\nallocTaskStrategy: round-robin\n",
		"w.properties": "workerId=w1\nnamesrvAddr=127.0.0.1:19876;127.0.0.1:29876\nhttpPort=18082\nallocTaskStrategy=org.apache.rocketmq.connect.runtime.service.strategy.DefaultAllocateConnAndTaskStrategy\n",
		"w.conf":       "# comment\nworkerId = w1\nnamesrvAddr = 127.0.0.1:19876;127.0.0.1:29876\nhttpPort = 18082\nallocTaskStrategy = round-robin\n",
		"w.json":       `{"workerId":"w1","namesrvAddr":"127.0.0.1:19876;127.0.0.1:29876","httpPort":18082,"allocTaskStrategy":"round-robin"}`,
	} {
		t.Run(name, func(t *testing.T) {
			w, err := Load(write(t, name, body))
			require.NoError(t, err)
			require.Equal(t, "w1", w.WorkerID)
			require.Equal(t, []string{"127.0.0.1:19876", "127.0.0.1:29876"}, w.NameServers())
			require.Equal(t, 18082, w.HTTPPort)
			require.Equal(t, "round-robin", w.AllocTaskStrategy)
			require.Equal(t, Defaults().ConfigStoreTopic, w.ConfigStoreTopic, "unset keys keep defaults")
			require.Equal(t, "127.0.0.1:18082", w.HTTPAddr())
		})
	}
}

func TestDefaultsAndEnvironment(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	w, err := Load("")
	require.NoError(t, err)
	require.Equal(t, Defaults(), *w)

	t.Setenv("RMQCONNECT_HTTPPORT", "9999")
	t.Setenv("RMQCONNECT_WORKERID", "from-env")
	w, err = Load(write(t, "w.yaml", "workerId: from-file\n"))
	require.NoError(t, err)
	require.Equal(t, 9999, w.HTTPPort)
	require.Equal(t, "from-env", w.WorkerID, "environment overrides the file")
}

// An environment override spelt with underscores between the key's words is refused, naming
// the right variable; it was ignored without a word, and the worker ran with the default.
func TestMisspeltEnvironmentOverride(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	t.Setenv("RMQCONNECT_HTTP_PORT", "9999")
	t.Setenv("RMQCONNECT_PID_DIR", "/run/rmqconnect") // a script's own variable: not a key
	_, err := Load("")
	var es cfgerr.List
	require.True(t, errors.As(err, &es), "%T %v", err, err)
	require.Len(t, es, 1)
	require.Equal(t, "httpPort", es[0].Key)
	require.Contains(t, es[0].Reason, "RMQCONNECT_HTTPPORT")
}

func TestRMQNamesrvFallback(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "127.0.0.1:19876")
	w, err := Load("")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:19876", w.NamesrvAddr)

	w, err = Load(write(t, "w.yaml", "namesrvAddr: 10.0.0.1:9876\n"))
	require.NoError(t, err)
	require.Equal(t, "10.0.0.1:9876", w.NamesrvAddr, "the file wins over RMQ_NAMESRV")
}

// The sticky strategy (scheduler.NewSticky) is the default; consistent-hash stays selectable, by
// name or by RocketMQ Connect's class name.
func TestStickyStrategyAccepted(t *testing.T) {
	w, err := Load(write(t, "w.yaml", "namesrvAddr: 10.0.0.1:9876\nallocTaskStrategy: sticky\n"))
	require.NoError(t, err)
	require.Equal(t, "sticky", w.AllocTaskStrategy)
	w, err = Load(write(t, "w.yaml", "namesrvAddr: 10.0.0.1:9876\n"))
	require.NoError(t, err)
	require.Equal(t, "sticky", w.AllocTaskStrategy, "the default")
	for _, name := range []string{"consistent-hash", "org.apache.rocketmq.connect.runtime.service.strategy.AllocateConnAndTaskStrategyByConsistentHash"} {
		w, err = Load(write(t, "w.yaml", "namesrvAddr: 10.0.0.1:9876\nallocTaskStrategy: "+name+"\n"))
		require.NoError(t, err)
		require.Equal(t, "consistent-hash", w.AllocTaskStrategy, name)
	}
}

func TestRejectsWithKeyAndReason(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	cases := []struct {
		name, body string
		keys       []string
	}{
		{"unknown key", "workerID: a\nhttpPrt: 80\n", []string{"httpprt"}},
		{"bad type", "httpPort: eighty\n", []string{"httpPort"}},
		{"port range", "httpPort: 70000\n", []string{"httpPort"}},
		{"bad namesrv", "namesrvAddr: 'http://x'\n", []string{"namesrvAddr"}},
		{"empty namesrv", "namesrvAddr: ';'\n", []string{"namesrvAddr"}},
		{"strategy", "allocTaskStrategy: random\n", []string{"allocTaskStrategy"}},
		{"worker id", "workerId: 'a b'\n", []string{"workerId"}},
		{"interval", "offsetCommitIntervalMsConfig: 0\n", []string{"offsetCommitIntervalMsConfig"}},
		{"topic", "configStoreTopic: 'bad topic'\n", []string{"configStoreTopic"}},
		{"acl", "aclEnable: true\n", []string{"aclEnable"}},
		{"several at once", "httpPort: -1\nlogLevel: loud\nlogFormat: xml\n", []string{"httpPort", "logFormat", "logLevel"}},
		// Decoded weakly, "" was 0: a REST API on a random port, the GC floor or ACL off.
		{"empty number", "httpPort: ''\n", []string{"httpPort"}},
		{"empty bool", "aclEnable: ''\n", []string{"aclEnable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(write(t, "w.yaml", c.body))
			require.Error(t, err)
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var es cfgerr.List
			require.True(t, errors.As(err, &es), "%T %v", err, err)
			var keys []string
			for _, e := range es {
				keys = append(keys, e.Key)
				require.NotEmpty(t, e.Reason)
			}
			require.Equal(t, c.keys, keys, err.Error())
		})
	}
}

func TestRESTAccess(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	users := write(t, "users", "alice:$2a$04$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")
	cert, key := write(t, "cert.pem", "cert"), write(t, "key.pem", "key")
	w, err := Load(write(t, "w.yaml", "restAuthFile: "+users+"\nrestTLSCertFile: "+cert+"\nrestTLSKeyFile: "+key+
		"\nrestCORSAllowedOrigins: 'https://ui.example.com, http://localhost:3000,*'\nrestCORSAllowedMethods: get,DELETE\n"))
	require.NoError(t, err)
	require.Equal(t, users, w.RESTAuthFile)
	require.Equal(t, []string{"https://ui.example.com", "http://localhost:3000", "*"}, w.CORSOrigins())
	require.Equal(t, []string{"GET", "DELETE"}, w.CORSMethods())

	d := Defaults()
	require.Empty(t, d.CORSOrigins(), "no CORS by default")
	require.Empty(t, d.AllowedHosts(), "only the built-in host names by default")
	require.False(t, d.RESTMutatingGetEnable, "the RocketMQ Connect GET routes that change state are off by default")
	w, err = Load(write(t, "w.properties", "restAllowedHosts=connect.example.com, worker-1\nrestMutatingGetEnable=true\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"connect.example.com", "worker-1"}, w.AllowedHosts())
	require.True(t, w.RESTMutatingGetEnable)
	require.Equal(t, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}, d.CORSMethods())

	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name, body, key, reason string
	}{
		{"cert without key", "restTLSCertFile: " + cert, "restTLSKeyFile", "required when restTLSCertFile is set"},
		{"key without cert", "restTLSKeyFile: " + key, "restTLSCertFile", "required when restTLSKeyFile is set"},
		{"unreadable users file", "restAuthFile: " + missing, "restAuthFile", "cannot read: no such file or directory"},
		{"users file is a directory", "restAuthFile: " + t.TempDir(), "restAuthFile", "cannot read: is a directory"},
		{"origin with a path", "restCORSAllowedOrigins: https://ui.example.com/app", "restCORSAllowedOrigins", "not an origin"},
		{"origin without scheme", "restCORSAllowedOrigins: ui.example.com", "restCORSAllowedOrigins", "not an origin"},
		{"bad method", "restCORSAllowedOrigins: '*'\nrestCORSAllowedMethods: 'GET,P*ST'", "restCORSAllowedMethods", "not an HTTP method"},
		{"no methods", "restCORSAllowedOrigins: '*'\nrestCORSAllowedMethods: ','", "restCORSAllowedMethods", "must not be empty"},
		{"host with a port", "restAllowedHosts: connect.example.com:8082", "restAllowedHosts", "not a host name"},
		{"host as a URL", "restAllowedHosts: http://connect.example.com", "restAllowedHosts", "not a host name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(write(t, "w.yaml", c.body+"\n"))
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var es cfgerr.List
			require.True(t, errors.As(err, &es), "%T %v", err, err)
			require.Len(t, es, 1, err.Error())
			require.Equal(t, c.key, es[0].Key)
			require.Contains(t, es[0].Reason, c.reason)
		})
	}
}

func TestFileProblems(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.True(t, IsNotExist(err))
	_, err = Load(write(t, "w.toml", "x=1"))
	require.ErrorContains(t, err, "unsupported extension")
	_, err = Load(write(t, "w.yaml", "a: [unclosed"))
	require.Error(t, err)
}

func TestRedacted(t *testing.T) {
	w := Defaults()
	w.SecretKey = "s3cret"
	require.Equal(t, "[hidden]", w.Redacted().SecretKey)
	require.Equal(t, "s3cret", w.SecretKey)
}

func TestSecretsFilesACLKeys(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	dir := t.TempDir()
	file := write(t, "f", "x")
	w, err := Load(write(t, "w.properties", "aclEnable=true\naccessKey=ak\nsecretKey=sk12345678\n"+
		"fileConnectorAllowedDirs="+dir+", /tmp\nconfigProviderFileAllowedDirs="+dir+"\nconfigProviderFileMaxBytes=4096\n"))
	require.NoError(t, err)
	ak, sk := w.ACLCredentials()
	require.Equal(t, []string{"ak", "sk12345678"}, []string{ak, sk})
	require.Equal(t, []string{dir, "/tmp"}, w.FileConnectorDirs())
	require.Equal(t, []string{dir}, w.ConfigProviderFileDirs())
	require.Equal(t, 4096, w.ConfigProviderFileMaxBytes)
	require.Equal(t, 1<<20, Defaults().ConfigProviderFileMaxBytes)

	w, err = Load(write(t, "w.properties", "accessKey=ak\nsecretKey=sk\n"))
	require.NoError(t, err)
	ak, sk = w.ACLCredentials()
	require.Empty(t, ak+sk, "keys without aclEnable sign nothing")

	for body, want := range map[string]string{
		"pluginPaths=plugins\n":                   `pluginPaths="plugins": must be an absolute directory path`,
		"pluginCallTimeoutMs=0\n":                 `pluginCallTimeoutMs="0": must be a positive number of milliseconds`,
		"pluginPaths=/nope/plugins\n":             `pluginPaths="/nope/plugins": cannot use: no such file or directory`,
		"aclEnable=true\naccessKey=ak\n":          "aclEnable=\"true\": accessKey and secretKey are required",
		"fileConnectorAllowedDirs=relative/dir\n": `fileConnectorAllowedDirs="relative/dir": must be an absolute directory path`,
		"fileConnectorAllowedDirs=" + file + "\n": "not a directory",
		"configProviderFileAllowedDirs=/nope/x\n": `configProviderFileAllowedDirs="/nope/x": cannot use: no such file or directory`,
		"configProviderFileMaxBytes=0\n":          "configProviderFileMaxBytes=\"0\": must be a positive number of bytes",
		"gcHeapFloorMB=-1\n":                      `gcHeapFloorMB="-1": must be a number of MiB from 0 (off) to 1048576`,
	} {
		_, err := Load(write(t, "w.properties", body))
		require.ErrorContains(t, err, want, body)
	}
}

// The value of a number key is read in decimal, as RocketMQ Connect's Java parses it, and a
// fraction is refused: a leading zero made "060000" octal (24576 ms), "0x1F92" was taken as
// hex, and 0.5 was cut to 0, which turns gcHeapFloorMB off.
func TestNumberKeysAreWholeDecimals(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	w, err := Load(write(t, "w.properties", "offsetCommitIntervalMsConfig=060000\nhttpPort=08082\n"))
	require.NoError(t, err)
	require.Equal(t, 60000, w.OffsetCommitIntervalMsConfig)
	require.Equal(t, 8082, w.HTTPPort)

	t.Run("environment", func(t *testing.T) {
		t.Setenv("RMQCONNECT_GRACEFULSHUTDOWNTIMEOUTMILLIS", "010000")
		w, err := Load("")
		require.NoError(t, err)
		require.Equal(t, 10000, w.GracefulShutdownTimeoutMillis)
	})
	w, err = Load(write(t, "w.json", `{"httpPort": 18082, "gcHeapFloorMB": 3.2e1}`))
	require.NoError(t, err, "a whole JSON number, in any notation")
	require.Equal(t, 18082, w.HTTPPort)
	require.Equal(t, 32, w.GCHeapFloorMB)

	for _, c := range []struct{ file, body, key string }{
		{"w.properties", "httpPort=0x1F92\n", "httpPort"},
		{"w.properties", "httpPort=8_082\n", "httpPort"},
		{"w.properties", "operationTimeout=1.5\n", "operationTimeout"},
		{"w.yaml", "gcHeapFloorMB: 0.5\n", "gcHeapFloorMB"},
		{"w.yaml", "httpPort: 8082.5\n", "httpPort"},
		{"w.json", `{"taskRestartBackoffMaxMs": 1e30}`, "taskRestartBackoffMaxMs"},
	} {
		_, err := Load(write(t, c.file, c.body))
		var es cfgerr.List
		require.True(t, errors.As(err, &es), "%s: %T %v", c.body, err, err)
		require.Len(t, es, 1, err.Error())
		require.Equal(t, c.key, es[0].Key)
		require.Contains(t, es[0].Reason, "whole number", err.Error())
	}
}
