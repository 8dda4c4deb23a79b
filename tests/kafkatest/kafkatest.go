package kafkatest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/tests/localserver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names an existing Kafka cluster (host:port, comma separated); with it set, nothing is started.
const EnvBrokers = "RMQ_TEST_KAFKA_BROKERS"

// Ports of the shared test broker; they differ from kafka-local.sh's defaults so the tests never disturb a
// broker started by hand.
const (
	sharedPort           = 29192
	sharedControllerPort = 29193
	sharedSASLPort       = 29194
	sharedSSLPort        = 29195
)

// SASL user of the shared broker (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512).
const (
	SASLUser     = "connect"
	SASLPassword = "connect-test-secret"
)

// Broker is one Kafka broker for tests.
type Broker struct {
	// Addr is the bootstrap address, host:port.
	Addr string
	// SASLAddr is a SASL_PLAINTEXT listener accepting SASLUser, and SSLAddr an SSL listener whose
	// certificate CAFile verifies (for 127.0.0.1 and localhost); all empty on a broker from
	// RMQ_TEST_KAFKA_BROKERS.
	SASLAddr, SSLAddr, CAFile string
	// env is the environment of kafka-local.sh for a broker this package started ("" for RMQ_TEST_KAFKA_BROKERS).
	env []string
	own bool
}

var (
	shared    Broker
	sharedErr error
	once      sync.Once
	seq       atomic.Int64
	runID     = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	// usersLock stays open (and locked) until the process exits: while any test process holds it, the
	// watcher left by kafka-local.sh leaves the shared broker running.
	usersLock *os.File
)

// Require skips the test under -short (a Kafka test is never a unit test).
func Require(t testing.TB) {
	t.Helper()
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		t.Skip("needs a Kafka broker; skipped with -short")
	}
}

// Shared returns the test run's broker, starting it on first use. Skipped under -short; fails the test when
// no broker can be had.
func Shared(t testing.TB) *Broker {
	t.Helper()
	Require(t)
	once.Do(func() { sharedErr = acquireShared() })
	if sharedErr != nil {
		t.Fatalf("kafkatest: no Kafka broker for the tests: %v", sharedErr)
	}
	return &shared
}

func acquireShared() error {
	if v := os.Getenv(EnvBrokers); v != "" {
		shared = Broker{Addr: v}
		return nil
	}
	dir, err := localserver.StateDir("RMQ_TEST_KAFKA_DIR", "testkafka")
	if err != nil {
		return err
	}
	if usersLock, err = localserver.Use(filepath.Join(dir, "users.lock")); err != nil {
		return err
	}
	ca, keystore, err := writeTLS(filepath.Join(dir, "tls"))
	if err != nil {
		return fmt.Errorf("test certificates: %w", err)
	}
	b := Broker{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sharedPort)),
		SASLAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sharedSASLPort)),
		SSLAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(sharedSSLPort)), CAFile: ca,
		env: []string{"KAFKA_DATA_DIR=" + filepath.Join(dir, "broker"), "KAFKA_PORT=" + strconv.Itoa(sharedPort),
			"KAFKA_CONTROLLER_PORT=" + strconv.Itoa(sharedControllerPort), "KAFKA_WATCH_LOCK=" + usersLock.Name(),
			"KAFKA_SASL_PORT=" + strconv.Itoa(sharedSASLPort), "KAFKA_SASL_USER=" + SASLUser, "KAFKA_SASL_PASSWORD=" + SASLPassword,
			"KAFKA_SSL_PORT=" + strconv.Itoa(sharedSSLPort), "KAFKA_SSL_KEYSTORE=" + keystore}}
	if err := b.script("start", "KAFKA_CLEAN=1"); err != nil {
		return err
	}
	shared = b
	return nil
}

// Own starts a broker of the test's own on free ports, which the test may Stop and Start; it is stopped
// when the test ends. Skipped under -short.
func Own(t testing.TB) *Broker {
	t.Helper()
	Require(t)
	port, cport := freePort(t), freePort(t)
	b := &Broker{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), own: true,
		env: []string{"KAFKA_DATA_DIR=" + filepath.Join(t.TempDir(), "kafka"), "KAFKA_PORT=" + strconv.Itoa(port),
			"KAFKA_CONTROLLER_PORT=" + strconv.Itoa(cport)}}
	if err := b.script("start"); err != nil {
		t.Fatalf("kafkatest: start a broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.script("stop"); err != nil {
			t.Errorf("kafkatest: stop the broker: %v", err)
		}
	})
	return b
}

// Stop stops a broker from Own with SIGTERM (its data stays); Start starts it again.
func (b *Broker) Stop(t testing.TB) {
	t.Helper()
	if !b.own {
		t.Fatal("kafkatest: only a broker from Own may be stopped")
	}
	if err := b.script("stop"); err != nil {
		t.Fatalf("kafkatest: stop: %v", err)
	}
}

// Start starts a broker from Own again after Stop.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	if !b.own {
		t.Fatal("kafkatest: only a broker from Own may be started")
	}
	if err := b.script("start"); err != nil {
		t.Fatalf("kafkatest: start: %v", err)
	}
}

func (b *Broker) script(cmd string, extraEnv ...string) error {
	script, err := localserver.Script("kafka-local.sh", EnvBrokers)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", script, cmd)
	c.Env = append(append(append(os.Environ(), b.env...), extraEnv...), "KAFKA_HEAP=512m")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka-local.sh %s: %w\n%s", cmd, err, out)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Client returns a franz-go client on the broker with extra options; it is closed when the test ends.
func (b *Broker) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(b.Addr, ",")...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client on the broker; it is closed when the test ends.
func (b *Broker) Admin(t testing.TB) *kadm.Client { return kadm.NewClient(b.Client(t)) }

// CreateTopic creates topic with partitions and optional topic configs (key, value pairs); it is deleted
// when the test ends.
func (b *Broker) CreateTopic(t testing.TB, topic string, partitions int32, configs ...string) {
	t.Helper()
	cfg := map[string]*string{}
	for i := 0; i+1 < len(configs); i += 2 {
		v := configs[i+1]
		cfg[configs[i]] = &v
	}
	cl := b.cleanupClient()
	if cl == nil {
		t.Fatal("kafkatest: no client")
	}
	defer cl.Close() // now, not at cleanup: a test checking for leaked goroutines sees none of the harness's
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkatest: create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := b.cleanupClient()
		if cl == nil {
			return
		}
		defer cl.Close()
		_, _ = kadm.NewClient(cl).DeleteTopics(ctx, topic)
	})
}

// cleanupClient is a client the caller closes, or nil.
func (b *Broker) cleanupClient() *kgo.Client {
	cl, _ := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.Addr, ",")...))
	return cl
}

// DeleteTopic deletes topic now.
func (b *Broker) DeleteTopic(t testing.TB, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := b.cleanupClient()
	if cl == nil {
		t.Fatal("kafkatest: no client")
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).DeleteTopics(ctx, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("kafkatest: delete topic %s: %v", topic, err)
	}
}

// Produce writes records synchronously and fails the test on an error.
func (b *Broker) Produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kafkatest: produce: %v", err)
	}
}

// ReadAll reads every record of topic from the start until want records came or timeout passed, and
// returns them (per partition in offset order, partitions interleaved).
func (b *Broker) ReadAll(t testing.TB, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	return b.ReadUntil(t, topic, timeout, func(recs []*kgo.Record) bool { return len(recs) >= want })
}

// ReadUntil reads every record of topic from the start until done holds for what was read so far (asked
// after every fetch) or timeout passed, and returns what was read (per partition in offset order).
func (b *Broker) ReadUntil(t testing.TB, topic string, timeout time.Duration, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.Addr, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("kafkatest: client: %v", err)
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	var out []*kgo.Record
	for !done(out) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				t.Logf("kafkatest: fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
			}
		}
		out = append(out, fs.Records()...)
	}
	return out
}

var nonName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// Name returns a topic name unique to this test and run (at most 100 characters).
func Name(t testing.TB, prefix string) string {
	base := nonName.ReplaceAllString(t.Name(), "_")
	suffix := fmt.Sprintf("_%s_%d", runID, seq.Add(1))
	if m := 100 - len(prefix) - 1 - len(suffix); len(base) > m {
		base = base[len(base)-m:]
	}
	return prefix + "_" + base + suffix
}
