package client_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The CLI links this package: it must stay free of the engine, the RocketMQ client and gin,
// and its only project dependency is the dependency-free restapi package.
func TestClientLinksNoEngine(t *testing.T) {
	for _, pkg := range []string{".", "../../worker/restapi"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, string(out))
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case strings.Contains(dep, "rocketmq-client-go"), strings.Contains(dep, "gin-gonic"):
				t.Errorf("%s links %s", pkg, dep)
			case strings.HasPrefix(dep, "github.com/rmqconnect/rmqconnect/") &&
				dep != "github.com/rmqconnect/rmqconnect/worker/restapi" &&
				dep != "github.com/rmqconnect/rmqconnect/admin/client":
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
