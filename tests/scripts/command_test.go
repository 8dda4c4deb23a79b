package scripts

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCmd runs name with args in the environment env (this process's when nil) and returns its combined
// output and exit code (-1 when a signal ended it). A command that cannot be run at all fails the test.
func runCmd(t testing.TB, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out), 0
}
