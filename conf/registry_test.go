package conf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

func writeRegistryConf(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestLoadRegistry(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	tests := []struct {
		name, file, text string
		want             *Registry
		errKeys          []string
	}{
		{name: "defaults", file: "r.yaml", text: "{}\n", want: ptr(RegistryDefaults())},
		{name: "yaml", file: "r.yaml", text: "namesrvAddr: 10.0.0.1:9876;10.0.0.2:9876\nhttpPort: 9090\nstoreTopic: my-store\nlogLevel: DEBUG\n",
			want: func() *Registry {
				r := RegistryDefaults()
				r.NamesrvAddr, r.HTTPPort, r.StoreTopic, r.LogLevel = "10.0.0.1:9876;10.0.0.2:9876", 9090, "my-store", "debug"
				return &r
			}()},
		{name: "properties", file: "r.properties", text: "httpBindAddress=0.0.0.0\nclusterName=reg-a\n",
			want: func() *Registry {
				r := RegistryDefaults()
				r.HTTPBindAddress, r.ClusterName = "0.0.0.0", "reg-a"
				return &r
			}()},
		{name: "unknown key", file: "r.yaml", text: "workerId: x\n", errKeys: []string{"workerid"}},
		{name: "bad values", file: "r.yaml",
			text:    "httpPort: abc\nstoreTopic: 'a b'\nnamesrvAddr: nohost\nlogLevel: loud\nclusterName: ''\n",
			errKeys: []string{"clusterName", "httpPort", "logLevel", "namesrvAddr", "storeTopic"}},
		{name: "port out of range", file: "r.yaml", text: "httpPort: 70000\n", errKeys: []string{"httpPort"}},
		{name: "rest access keys", file: "r.yaml", text: "restTLSCertFile: /nonexistent/c.pem\nrestAllowedHosts: 'a:1'\nrestCORSAllowedOrigins: x\n",
			errKeys: []string{"restAllowedHosts", "restCORSAllowedOrigins", "restTLSCertFile", "restTLSKeyFile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadRegistry(writeRegistryConf(t, tt.file, tt.text))
			if tt.errKeys == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var errs cfgerr.List
			require.True(t, errors.As(err, &errs))
			var keys []string
			for _, e := range errs {
				keys = append(keys, e.Key)
			}
			require.Equal(t, tt.errKeys, keys)
		})
	}
}

func TestLoadRegistryEnvAndFile(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "192.168.1.1:9876")
	r, err := LoadRegistry("")
	require.NoError(t, err)
	require.Equal(t, []string{"192.168.1.1:9876"}, r.NameServers())
	require.Equal(t, "127.0.0.1:8081", r.HTTPAddr())

	t.Setenv("RMQCONNECT_HTTPPORT", "18081")
	r, err = LoadRegistry("")
	require.NoError(t, err)
	require.Equal(t, 18081, r.HTTPPort)

	_, err = LoadRegistry(filepath.Join(t.TempDir(), "missing.yaml"))
	require.True(t, IsNotExist(err))
	_, err = LoadRegistry(writeRegistryConf(t, "r.txt", ""))
	require.ErrorContains(t, err, "unsupported extension")
}

func ptr[T any](v T) *T { return &v }
