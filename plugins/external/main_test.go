package external_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the plugin binaries the tests build once: the example plugin and the test
// plugins of testdata.
var binDir string

// buildPlugin builds the main package pkg into dir/name.
func buildPlugin(dir, name, pkg string) error {
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// envFakeWorker, when set, makes this test binary the fake worker TestPluginDiesWithWorker starts
// and kills: it needs only the plugin in that directory.
const envFakeWorker = "RMQC_TEST_FAKE_WORKER_DIR"

func TestMain(m *testing.M) {
	if os.Getenv(envFakeWorker) != "" {
		// Killed with SIGKILL, it would leave behind a directory of plugins built for nothing.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "rmqc-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for name, pkg := range map[string]string{
		"lines":       "github.com/rmqconnect/rmqconnect/plugins/examples/lines",
		"faulty":      "./testdata/faulty",
		"oldproto":    "./testdata/oldproto",
		"probe":       "./testdata/probe",
		"oldsdk":      "./testdata/oldsdk",
		"baddescribe": "./testdata/baddescribe",
	} {
		if err := buildPlugin(dir, name, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type slogLogger = slog.Logger

var slogDiscard = slog.New(slog.NewTextHandler(io.Discard, nil))
