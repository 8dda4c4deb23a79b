// Package scripts tests the shell scripts under distribution/bin as a user runs them, and the
// test tooling around them: tests/retry-failed.sh and make test-go's sharing of the test
// broker. The programs the scripts start are fakes unless a test says otherwise: shell
// scripts, or this test binary (TestMain turns it into a fake worker or a fake Kafka broker).
package scripts
