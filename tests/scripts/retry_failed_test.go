package scripts

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const retryScript = "../../tests/retry-failed.sh"

// fakeGoScript stands in for the go command: call N records its arguments in <dir>/args.N (one
// a line), prints <dir>/out.N and exits with <dir>/rc.N (default 0).
const fakeGoScript = `#!/bin/sh
dir=%q
n=$(( $(cat "$dir/calls" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$dir/calls"
printf '%%s\n' "$@" >"$dir/args.$n"
if [ -f "$dir/out.$n" ]; then cat "$dir/out.$n"; fi
exit "$(cat "$dir/rc.$n" 2>/dev/null || echo 0)"
`

// Outputs of go test for two packages, as go prints them (captured from real runs).
const (
	pkgA = "example.com/m/a"
	pkgB = "example.com/m/b"

	outTestsFailed = "--- FAIL: TestOne (0.00s)\n    a_test.go:3: boom\n--- FAIL: TestTwo (0.00s)\n" +
		"    --- FAIL: TestTwo/sub (0.00s)\n        a_test.go:4: x\n--- FAIL: TestOne (0.00s)\nFAIL\nFAIL\t" + pkgA + "\t0.095s\n"
	outPanic = "--- FAIL: TestOne (0.00s)\n    a_test.go:3: boom\n--- FAIL: TestPanics (0.00s)\n" +
		"panic: kaboom [recovered, repanicked]\n\ngoroutine 19 [running]:\ntesting.tRunner.func1.2({0x550fc0, 0x5945e0})\n" +
		"\t/usr/local/go/src/testing/testing.go:1974 +0x232\nFAIL\t" + pkgA + "\t0.007s\n"
	outTimeout = "panic: test timed out after 40m0s\n\trunning tests:\n\t\tTestSlow (40m0s)\n\ngoroutine 7 [running]:\n" +
		"testing.(*M).startAlarm.func1()\n\t/usr/local/go/src/testing/testing.go:2802 +0x354\nFAIL\t" + pkgA + "\t2400.007s\n"
	outMainFailed = "PASS\nrmqtest: goroutines left running after the tests: found unexpected goroutines\nFAIL\t" + pkgA + "\t3.003s\n"
	outExited     = "--- FAIL: TestOne (0.00s)\n    a_test.go:3: boom\nFAIL\t" + pkgA + "\t0.002s\n"
	outBOK        = "ok  \t" + pkgB + "\t0.006s\n"
	outBFailed    = "--- FAIL: TestThree (0.00s)\n    b_test.go:3: boom\nFAIL\nFAIL\t" + pkgB + "\t0.004s\n"
	outBBuild     = "# " + pkgB + " [" + pkgB + ".test]\nb/b_test.go:3:28: undefined: undefined\nFAIL\t" + pkgB + " [build failed]\n"
	outPass       = "ok  \t" + pkgA + "\t0.010s\n"
	outRace       = "==================\nWARNING: DATA RACE\nWrite at 0x00c0000a0108 by goroutine 8:\n  example.com/m/a.TestRacy.func1()\n" +
		"==================\n--- FAIL: TestRacy (0.00s)\n    testing.go:1617: race detected during execution of test\nFAIL\nFAIL\t" + pkgA + "\t0.021s\n"
)

type goCall struct {
	args []string // expected arguments of a retry
	out  string
	rc   int
}

func TestRetryFailed(t *testing.T) {
	flags := []string{"-count=1", "-timeout", "40m"}
	run := func(pkg string, extra ...string) []string {
		return append(append(append([]string{"test"}, flags...), extra...), pkg)
	}
	cases := []struct {
		name    string
		first   string // output of the first run, which fails
		retries []goCall
		code    int
		want    []string // in the script's output
	}{
		{name: "failed tests run again alone, in their package only", first: outTestsFailed + outBOK,
			retries: []goCall{{args: run(pkgA, "-run", "^(TestOne|TestTwo)$"), out: outPass}},
			want:    []string{"retry-failed: " + pkgA + ": TestOne TestTwo failed; running them once more, alone", "every retry passed"}},
		{name: "failed tests of two packages", first: outTestsFailed + outBFailed,
			retries: []goCall{{args: run(pkgA, "-run", "^(TestOne|TestTwo)$"), out: outPass},
				{args: run(pkgB, "-run", "^(TestThree)$"), out: outBFailed, rc: 1}},
			code: 1, want: []string{"failed again: " + pkgB + " (TestThree)"}},
		{name: "a panic reruns the whole package", first: outPanic + outBOK,
			retries: []goCall{{args: run(pkgA), out: outPass}},
			want:    []string{pkgA + ": panic: kaboom [recovered, repanicked] (the tests after it did not run): running the whole package once more"}},
		{name: "a whole package failing again fails the run", first: outPanic,
			retries: []goCall{{args: run(pkgA), out: outPanic, rc: 1}},
			code:    1, want: []string{"failed again: " + pkgA + " (whole package)"}},
		{name: "a timeout reruns the whole package", first: outTimeout,
			retries: []goCall{{args: run(pkgA), out: outPass}},
			want:    []string{pkgA + ": panic: test timed out after 40m0s (the tests after it did not run)"}},
		{name: "FAIL naming no test (TestMain, goleak)", first: outMainFailed + outBOK,
			retries: []goCall{{args: run(pkgA), out: outPass}},
			want:    []string{pkgA + ": FAIL with no failed test named"}},
		{name: "a binary that exits before its closing FAIL", first: outExited,
			retries: []goCall{{args: run(pkgA), out: outPass}},
			want:    []string{pkgA + ": its test binary exited before finishing its tests"}},
		{name: "a build failure is not retried", first: outTestsFailed + outBBuild,
			code: 1, want: []string{"not retrying anything: " + pkgB + " did not build"}},
		{name: "a data race is not retried", first: outRace + outBFailed,
			code: 1, want: []string{"not retrying anything: the race detector failed " + pkgA}},
		{name: "a failure with no package to retry", first: "go: updates to go.mod needed\n",
			code: 1, want: []string{"without a failed package to run again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			goBin := filepath.Join(dir, "go")
			require.NoError(t, os.WriteFile(goBin, []byte(fmt.Sprintf(fakeGoScript, dir)), 0o755))
			writeFile(t, dir, "out.1", tc.first)
			writeFile(t, dir, "rc.1", "1")
			for i, r := range tc.retries {
				writeFile(t, dir, fmt.Sprintf("out.%d", i+2), r.out)
				writeFile(t, dir, fmt.Sprintf("rc.%d", i+2), strconv.Itoa(r.rc))
			}

			out, code := runCmd(t, append(os.Environ(), "GO="+goBin), "bash", append([]string{retryScript}, append(flags, "./a", "./b")...)...)
			require.Equal(t, tc.code, code, out)
			for _, w := range tc.want {
				require.Contains(t, out, w)
			}

			calls, err := os.ReadFile(filepath.Join(dir, "calls"))
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(1+len(tc.retries)), strings.TrimSpace(string(calls)), "go test runs: %s", out)
			first, err := os.ReadFile(filepath.Join(dir, "args.1"))
			require.NoError(t, err)
			require.Equal(t, "test\n-count=1\n-timeout\n40m\n./a\n./b\n", string(first), "the first run gets the arguments as given")
			for i, r := range tc.retries {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("args.%d", i+2)))
				require.NoError(t, err)
				require.Equal(t, r.args, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), "retry %d", i+1)
			}
		})
	}
}

// Flags after the packages, -flag value pairs and -args are kept when a package runs again.
func TestRetryFailedKeepsTheFlags(t *testing.T) {
	dir := t.TempDir()
	goBin := filepath.Join(dir, "go")
	require.NoError(t, os.WriteFile(goBin, []byte(fmt.Sprintf(fakeGoScript, dir)), 0o755))
	writeFile(t, dir, "out.1", outTimeout)
	writeFile(t, dir, "rc.1", "1")
	out, code := runCmd(t, append(os.Environ(), "GO="+goBin), "bash", retryScript, "-race", "-p", "2", "./a", "-short", "-tags=x", "-args", "-faults.full")
	require.Equal(t, 0, code, out)
	b, err := os.ReadFile(filepath.Join(dir, "args.2"))
	require.NoError(t, err)
	require.Equal(t, "test\n-race\n-p\n2\n-short\n-tags=x\n"+pkgA+"\n-args\n-faults.full\n", string(b))
}
