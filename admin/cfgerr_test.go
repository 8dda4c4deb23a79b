package admin

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf"
	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/providers"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

// TestConfigErrorOfEveryLayerIs400: whichever layer rejects a key (the worker config, a config
// provider, a converter, a connector's Spec, a transform chain), its error is a *cfgerr.Error, so
// errors.As finds the key through any wrapping, and a herder that returns it gets a 400 whose
// message names the key.
func TestConfigErrorOfEveryLayerIs400(t *testing.T) {
	workerCfg := filepath.Join(t.TempDir(), "worker.yaml")
	require.NoError(t, os.WriteFile(workerCfg, []byte("nosuchworkerkey: 1\n"), 0o600))
	_, confErr := conf.Load(workerCfg)
	_, providerErr := providers.Resolve(map[string]string{"db.password": "${env:RMQC_CFGERR_TEST_UNSET}"})
	_, converterErr := converter.FromConfig(map[string]string{"value.converter": "json", "value.converter.schemas.enable": "maybe"}, "value.converter", false)
	_, specErr := plugins.MustConfigSpec(plugins.Field{Name: "poll.ms", Type: plugins.TypeInt}).Parse(map[string]string{"poll.ms": "soon"})
	_, chainErr := transforms.ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "Nope"}, nil)

	for _, tc := range []struct {
		layer string
		err   error
		key   string
	}{
		{"worker config", confErr, "nosuchworkerkey"},
		{"config provider", providerErr, "db.password"},
		{"converter", converterErr, "value.converter.schemas.enable"},
		{"connector spec", specErr, "poll.ms"},
		{"transform chain", chainErr, "transforms.a.type"},
	} {
		t.Run(tc.layer, func(t *testing.T) {
			require.Error(t, tc.err)
			wrapped := fmt.Errorf("create c: %w", tc.err)
			var ce *cfgerr.Error
			require.True(t, errors.As(wrapped, &ce), "%T: %v", tc.err, tc.err)
			require.Equal(t, tc.key, ce.Key)
			require.ErrorIs(t, wrapped, cfgerr.ErrInvalid)
			require.Equal(t, http.StatusBadRequest, httpStatus(wrapped))

			h, f := newTestServer(t)
			f.Fail(wrapped)
			requireError(t, h, http.MethodPost, "/connectors", `{"name":"c","config":{"connector.class":"x"}}`, 400, tc.key)
		})
	}
}
