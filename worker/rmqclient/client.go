package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// Config is what every client of one process shares.
type Config struct {
	// NameServers are host:port addresses of the name servers; at least one is required.
	NameServers []string
	// Instance prefixes the instance name of every producer and consumer this client makes
	// (usually the worker id), so that two processes on one host never share a client id.
	Instance string
	// Logger receives client logs (warn and above) and adapter logs. Nil means slog.Default().
	Logger *slog.Logger
	// RouteTimeout bounds how long CreateTopic waits for the name server to route a new topic.
	// Zero means 15s.
	RouteTimeout time.Duration
	// AccessKey and SecretKey, both set, sign every request this client and the producers,
	// consumers and readers it makes send, for brokers with ACL enabled (the worker's
	// aclEnable, accessKey, secretKey). Both empty: requests are not signed.
	AccessKey, SecretKey string
	// OperationTimeout bounds one request to a name server or broker (an offset or route
	// query, a pull, a topic change) where the caller's context sets no earlier deadline.
	// Zero means 3s. It does not bound sends: the client library waits a fixed 3 s for the
	// answer to each send attempt (v2.1.2's sendSync passes 3*time.Second to InvokeSync; its
	// send timeout option reaches only one-way and transaction-check requests), so a send
	// attempt waits up to 3 s whatever this is, and less only when the caller's context
	// ends sooner.
	OperationTimeout time.Duration
}

// Client owns the admin connection and makes producers and consumers.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger
	rpc remoting.Client // the adapter's own requests (admin included), signed like the library's

	mu     sync.Mutex
	seq    int
	closed bool
}

// New validates cfg and builds a client. It does not contact the broker; Ping does.
func New(cfg Config) (*Client, error) {
	if len(cfg.NameServers) == 0 {
		return nil, ErrNoNameServer
	}
	for _, a := range cfg.NameServers {
		if !hostPort.MatchString(a) {
			return nil, fmt.Errorf("%w: name server %q is not host:port", ErrInvalid, a)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instance == "" {
		cfg.Instance = "rmqconnect"
	}
	if cfg.RouteTimeout <= 0 {
		cfg.RouteTimeout = 15 * time.Second
	}
	if cfg.OperationTimeout <= 0 {
		cfg.OperationTimeout = 3 * time.Second
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, fmt.Errorf("%w: ACL needs both an access key and a secret key", ErrInvalid)
	}
	installGlobals(cfg.Logger)
	rpc := remoting.Client{Credentials: remoting.Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey},
		Timeout: cfg.OperationTimeout, Pool: remoting.NewPool()}
	return &Client{cfg: cfg, log: cfg.Logger, rpc: rpc}, nil
}

// credentials are what the client library signs with; empty when ACL is off (the library
// then signs nothing).
func credentials(cfg Config) primitive.Credentials {
	return primitive.Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}
}

var hostPort = regexp.MustCompile(`^[A-Za-z0-9._\-\[\]:]+:[0-9]{1,5}$`)

// NameServers returns the configured name server addresses.
func (c *Client) NameServers() []string { return append([]string(nil), c.cfg.NameServers...) }

// instanceName returns a fresh, process-unique instance name for one role.
func (c *Client) instanceName(role string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("%s-%s-%d", c.cfg.Instance, sanitize(role), c.seq)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_\-%|]`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// Close marks the client closed and closes the connections of its own requests (pulls,
// offsets, admin); producers and consumers are closed by their owners.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.rpc.Pool.Close()
}

// Broker is one broker master known to the name server.
type Broker struct {
	Name    string
	Addr    string
	Cluster string
}

// Brokers asks every name server at once for the master of every broker and returns them
// all, sorted by name: each name server knows the brokers that registered with it, and one
// that has just restarted knows only those that registered again since (every 30 s), so no
// one answer is the whole cluster. A broker whose master two name servers place at
// different addresses (a move still reaching them) gets the address of the earlier name
// server in the configuration. A broker gone for good stays listed while a name server
// still has it: one shut down gracefully unregisters from every name server at once, one
// that stopped registering expires from each 120 s after its last registration there.
// A name server that knows no broker counts as unreachable: its empty view is no sign that
// the cluster has none. Without a name server that knows a broker, the error wraps
// ErrUnreachable: the list is never empty.
func (c *Client) Brokers(ctx context.Context) ([]Broker, error) {
	answers := askAll(ctx, c.cfg.NameServers, c.cfg.OperationTimeout, c.rpc.GetClusterInfo)
	var out []Broker
	known := make(map[string]bool)
	var errs []error
	for _, a := range answers {
		if a.err == nil {
			bs := masters(a.val)
			for _, b := range bs {
				if !known[b.Name] {
					known[b.Name] = true
					out = append(out, b)
				}
			}
			if len(bs) == 0 {
				a.err = errNoBroker
			}
		}
		if a.err != nil {
			errs = append(errs, fmt.Errorf("name server %s: %w", a.ns, a.err))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(errs...))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// errNoBroker is a name server's answer that it knows no broker master.
var errNoBroker = errors.New("knows no broker")

// knowsBrokers returns nil when name server ns knows a broker master, else why not.
func (c *Client) knowsBrokers(ctx context.Context, ns string) error {
	ci, err := c.rpc.GetClusterInfo(ctx, ns)
	if err == nil && len(masters(ci)) == 0 {
		err = errNoBroker
	}
	return err
}

// masters returns the master of every broker of ci, sorted by name.
func masters(ci *remoting.ClusterInfo) []Broker {
	var out []Broker
	for name, b := range ci.Brokers {
		if a, ok := b.Addrs["0"]; ok {
			out = append(out, Broker{Name: name, Addr: a, Cluster: b.Cluster})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ping checks that a name server answers and knows at least one broker. It asks every name
// server at once and the first that knows a broker is the answer: asked in turn, one that
// accepts connections and never answers (a black-holed host) would use up ctx, which for
// /health is a few seconds, before the next is asked.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		ns  string
		err error
	}
	answers := make(chan answer, len(c.cfg.NameServers)) // never blocks: the losers end on their own
	var asking errgroup.Group
	for _, ns := range c.cfg.NameServers {
		asking.Go(func() error {
			answers <- answer{ns, c.knowsBrokers(ctx, ns)}
			return nil
		})
	}
	var errs []error
	for range c.cfg.NameServers {
		a := <-answers
		if a.err == nil {
			errs = nil
			break
		}
		errs = append(errs, fmt.Errorf("name server %s: %w", a.ns, a.err))
	}
	cancel() // the name servers still being asked are not needed any more
	_ = asking.Wait()
	if errs != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(errs...))
	}
	return nil
}

// CheckAccess asks every broker master to authenticate this client (a signed request that
// needs no permission). A broker with ACL enabled that refuses the credentials gives an
// error wrapping ErrAccessDenied with the broker's reason; a broker without ACL accepts any.
func (c *Client) CheckAccess(ctx context.Context) error {
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return err
	}
	for _, b := range brokers {
		err := c.rpc.CheckAuth(ctx, b.Addr, c.cfg.Instance+"-access-check")
		var re *remoting.RemoteError
		if errors.As(err, &re) && re.Code == remoting.CodeNoPermission {
			return fmt.Errorf("%w: broker %s (%s): %s", ErrAccessDenied, b.Name, b.Addr, re.Remark)
		}
		if err != nil {
			return fmt.Errorf("broker %s (%s): %w", b.Name, b.Addr, err)
		}
	}
	return nil
}

// Queue identifies one message queue.
type Queue struct {
	Topic      string
	BrokerName string
	QueueID    int
}

func (q Queue) String() string { return fmt.Sprintf("%s@%s#%d", q.Topic, q.BrokerName, q.QueueID) }

// TopicQueues returns the writable queues the name servers route for topic now (asking them
// directly, past the client library's route cache, and joining their routes: see route),
// sorted by broker and queue id.
// A topic without a route gives an error wrapping ErrNoRoute.
func (c *Client) TopicQueues(ctx context.Context, topic string) ([]Queue, error) {
	return c.routedQueues(ctx, topic, PermWrite, "writable", func(qd remoting.QueueData) int { return qd.WriteQueueNums })
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name   string
	Queues int // read and write queues per broker; 0 means 4
	// Order marks the topic as ordered (RocketMQ's order flag); ordering itself comes from
	// sending related messages to one queue.
	Order bool
}

// CreateTopic creates (or updates) the topic on every broker master and waits until the
// name servers route at least spec.Queues queues on each, or RouteTimeout passes.
func (c *Client) CreateTopic(ctx context.Context, spec TopicSpec) error {
	if !rmqname.Topic(spec.Name) {
		return fmt.Errorf("%w: topic name %q must match %s", ErrInvalid, spec.Name, rmqname.TopicPattern)
	}
	if spec.Queues <= 0 {
		spec.Queues = 4
	}
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", spec.Name, err)
	}
	for _, b := range brokers {
		// The adapter's own request: signed, and a refusal is an error (the library's admin
		// client neither signs CreateTopic nor reads the broker's answer).
		err := c.rpc.CreateTopic(ctx, b.Addr, spec.Name, spec.Queues, spec.Order)
		if err != nil {
			return fmt.Errorf("create topic %s on broker %s (%s): %w", spec.Name, b.Name, b.Addr, err)
		}
	}
	return c.awaitRoute(ctx, spec.Name, spec.Queues*len(brokers))
}

// awaitRoute polls the name servers until topic routes at least want queues.
func (c *Client) awaitRoute(ctx context.Context, topic string, want int) error {
	return c.awaitTopic(ctx, "create", topic, func(ctx context.Context) error {
		qs, err := c.TopicQueues(ctx, topic)
		if err == nil && len(qs) < want {
			err = fmt.Errorf("%d of %d queues routed", len(qs), want)
		}
		return err
	})
}

// awaitTopic calls routed, with a growing pause between calls, until it reports topic routed
// as wanted (nil) or RouteTimeout passes; op (create, update) names the operation waited for.
func (c *Client) awaitTopic(ctx context.Context, op, topic string, routed func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RouteTimeout)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		last := routed(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s topic %s: route not visible after %s: %w", op, topic, c.cfg.RouteTimeout, last)
		case <-time.After(backoff):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
}

// QueueOffsets returns the min and max (next to write) offsets of one queue.
func (c *Client) QueueOffsets(ctx context.Context, q Queue) (minOff, maxOff int64, err error) {
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, b := range brokers {
		if b.Name != q.BrokerName {
			continue
		}
		if minOff, err = c.rpc.GetMinOffset(ctx, b.Addr, q.Topic, q.QueueID); err != nil {
			return 0, 0, fmt.Errorf("min offset of %s: %w", q, err)
		}
		if maxOff, err = c.rpc.GetMaxOffset(ctx, b.Addr, q.Topic, q.QueueID); err != nil {
			return 0, 0, fmt.Errorf("max offset of %s: %w", q, err)
		}
		return minOff, maxOff, nil
	}
	return 0, 0, fmt.Errorf("%w: broker %s of %s is not registered", ErrNoRoute, q.BrokerName, q)
}

// safeClose runs a client shutdown function, turning its panics (send on closed channel,
// rocketmq-client-go#1051) into errors.
func safeClose(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shutdown panicked: %v", p)
		}
	}()
	return f()
}

func (c *Client) brokerAddr(ctx context.Context, name string) (string, error) {
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return "", err
	}
	for _, b := range brokers {
		if b.Name == name {
			return b.Addr, nil
		}
	}
	return "", fmt.Errorf("%w: broker %s is not registered", ErrNoRoute, name)
}

// GroupOffset returns a consumer group's committed offset in q; found is false when the
// group has none there yet.
func (c *Client) GroupOffset(ctx context.Context, group string, q Queue) (offset int64, found bool, err error) {
	addr, err := c.brokerAddr(ctx, q.BrokerName)
	if err != nil {
		return 0, false, err
	}
	off, found, err := c.rpc.QueryConsumerOffset(ctx, addr, group, q.Topic, q.QueueID)
	if err != nil {
		return 0, false, fmt.Errorf("offset of %s in %s: %w", group, q, err)
	}
	return off, found, nil
}

// SetGroupOffset sets a consumer group's committed offset in q. The group's consumers must
// be stopped: a running consumer overwrites it with its own position.
func (c *Client) SetGroupOffset(ctx context.Context, group string, q Queue, offset int64) error {
	addr, err := c.brokerAddr(ctx, q.BrokerName)
	if err != nil {
		return err
	}
	err = c.rpc.UpdateConsumerOffset(ctx, addr, group, q.Topic, q.QueueID, offset)
	if remoting.IsCode(err, remoting.CodeSubscriptionGroupNotExist) {
		// A group that never consumed exists on the broker only once created.
		if err = c.rpc.CreateSubscriptionGroup(ctx, addr, group); err == nil {
			err = c.rpc.UpdateConsumerOffset(ctx, addr, group, q.Topic, q.QueueID, offset)
		}
	}
	if err != nil {
		return fmt.Errorf("set offset of %s in %s to %d: %w", group, q, offset, err)
	}
	return nil
}

// Tail watches the end of one queue: MaxOffset costs one request to the broker, whose
// address is looked up once and again after an error.
type Tail struct {
	c    *Client
	q    Queue
	mu   sync.Mutex
	addr string
}

// NewTail returns a Tail of q.
func (c *Client) NewTail(q Queue) *Tail { return &Tail{c: c, q: q} }

// MaxOffset returns the offset the next message of the queue will get.
func (t *Tail) MaxOffset(ctx context.Context) (int64, error) {
	t.mu.Lock()
	addr := t.addr
	t.mu.Unlock()
	if addr == "" {
		a, err := t.c.brokerAddr(ctx, t.q.BrokerName)
		if err != nil {
			return 0, err
		}
		addr = a
	}
	off, err := t.c.rpc.GetMaxOffset(ctx, addr, t.q.Topic, t.q.QueueID)
	t.mu.Lock()
	if err != nil {
		t.addr = ""
	} else {
		t.addr = addr
	}
	t.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("max offset of %s: %w", t.q, err)
	}
	return off, nil
}
