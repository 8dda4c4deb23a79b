package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Stages at which a record can fail, as written to __connect.errors.stage.
const (
	StagePoll      = "TASK_POLL"
	StageTransform = "TRANSFORMATION"
	StageKeyConv   = "KEY_CONVERTER"
	StageValueConv = "VALUE_CONVERTER"
	StageHeader    = "HEADER_CONVERTER"
	StageProduce   = "PRODUCE"
	StageConsume   = "CONSUME"
	StagePut       = "TASK_PUT"
)

// DLQ message properties, as Kafka/RocketMQ Connect name them.
const (
	ErrHeaderPrefix       = "__connect.errors."
	ErrHeaderTopic        = ErrHeaderPrefix + "topic"
	ErrHeaderPartition    = ErrHeaderPrefix + "partition"
	ErrHeaderOffset       = ErrHeaderPrefix + "offset"
	ErrHeaderConnector    = ErrHeaderPrefix + "connector.name"
	ErrHeaderTask         = ErrHeaderPrefix + "task.id"
	ErrHeaderStage        = ErrHeaderPrefix + "stage"
	ErrHeaderClass        = ErrHeaderPrefix + "class.name"
	ErrHeaderExcClass     = ErrHeaderPrefix + "exception.class.name"
	ErrHeaderExcMessage   = ErrHeaderPrefix + "exception.message"
	ErrHeaderExcStack     = ErrHeaderPrefix + "exception.stacktrace"
	ErrHeaderTimestamp    = ErrHeaderPrefix + "timestamp"
	ErrHeaderOriginalKeys = ErrHeaderPrefix + "original.keys"
	// ErrHeaderBodyTruncated is "true" on a DLQ message that keeps only the first
	// dlqMaxBody bytes of a record too large for RocketMQ; ErrHeaderBodySize is then the
	// original size. Such a record cannot be replayed.
	ErrHeaderBodyTruncated = ErrHeaderPrefix + "body.truncated"
	ErrHeaderBodySize      = ErrHeaderPrefix + "body.size"
	// ErrHeaderPropsTruncated is "true" on a DLQ message that could not keep the record's own
	// properties (and, past them, its keys): with the error context they passed RocketMQ's
	// limit on a message's properties. Such a record cannot be replayed.
	ErrHeaderPropsTruncated = ErrHeaderPrefix + "properties.truncated"
	// ErrHeaderBodyRendered is "true" on a DLQ message of a record a sink task reported whose
	// message could not be read back from its queue: the body is the task's record rendered
	// as text, not the bytes the topic held. Such a record cannot be replayed.
	ErrHeaderBodyRendered = ErrHeaderPrefix + "body.rendered"
	// ErrHeaderBodyUndecodable is "true" on a DLQ message of a message the worker could not
	// decode as the broker stores it (a compression it does not know, a corrupt body): the body
	// is the stored bytes, still compressed, which no consumer can read as they are. Such a
	// record cannot be replayed.
	ErrHeaderBodyUndecodable = ErrHeaderPrefix + "body.undecodable"
)

// dlqMaxBody is the most of a failed record's body a DLQ message keeps: the broker's
// message limit less room for the properties (at most 32 KiB) and framing.
const dlqMaxBody = rmqclient.MaxMessageBytes - 64<<10

// The DLQ message's properties must fit RocketMQ's limit (dlqMaxProps encoded bytes) or the
// broker refuses the message on every try, and a tolerant task would fail and restart on
// the same record forever. The exception message and stack trace, which can be any length,
// are cut to dlqMaxContextValue each (the other context values are names and numbers);
// what the producer adds itself (UNIQ_KEY, WAIT, TAGS) is left dlqPropsReserve.
const (
	dlqMaxProps        = 32767 // the wire format's 2-byte length
	dlqMaxContextValue = 4 << 10
	dlqPropsReserve    = 512
)

// stageConverters names the converters as a group in a panic's trace: a panic does not say
// which of the key, value and header converters it came from.
const stageConverters = "CONVERTERS"

// panicError is a panic recovered in code the engine runs for a task outside plugin calls
// (transforms, converters). It fails the task, whatever errors.tolerance says: a panic is a
// bug, not a bad record. Its text carries the panic value and the goroutine's stack, so the
// task's FAILED trace shows where it happened.
type panicError struct {
	stage string
	value any
	stack []byte
}

func newPanicError(stage string, value any) *panicError {
	return &panicError{stage: stage, value: value, stack: debug.Stack()}
}

func (e *panicError) Error() string {
	return fmt.Sprintf("stage %s: panic: %v\n%s", e.stage, e.value, e.stack)
}

// errorPolicy is a connector's errors.* configuration.
type errorPolicy struct {
	tolerateAll     bool
	retryTimeout    time.Duration // 0: no retry; <0: retry forever
	retryDelayMax   time.Duration
	logEnable       bool
	logMessages     bool
	dlqTopic        string
	dlqContextProps bool
}

func parseErrorPolicy(cfg map[string]string) (errorPolicy, cfgerr.List) {
	p := errorPolicy{retryDelayMax: time.Minute, dlqContextProps: true}
	var probs cfgerr.List
	switch v := strings.ToLower(strings.TrimSpace(cfg["errors.tolerance"])); v {
	case "", "none":
	case "all":
		p.tolerateAll = true
	default:
		probs = append(probs, problem("errors.tolerance", v, "must be none or all"))
	}
	// ms parses key as milliseconds >= 0; forever, when set, says what -1, also taken, means.
	ms := func(key string, def int64, forever string) int64 {
		s, ok := cfg[key]
		if !ok || strings.TrimSpace(s) == "" {
			return def
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		switch {
		case forever != "" && (err != nil || n < -1):
			probs = append(probs, problem(key, s, "must be milliseconds (>= 0, or -1 "+forever+")"))
			return def
		case forever == "" && (err != nil || n < 0):
			probs = append(probs, problem(key, s, "must be milliseconds (>= 0)"))
			return def
		}
		return n
	}
	p.retryTimeout = time.Duration(ms("errors.retry.timeout", 0, "to retry forever")) * time.Millisecond
	// 0 is taken, as Kafka Connect's config takes it: retries do not wait. Kafka Connect takes
	// a negative cap too, then fails the task at its first retry (a random delay below the
	// cap); here it is refused up front.
	p.retryDelayMax = time.Duration(ms("errors.retry.delay.max.ms", 60000, "")) * time.Millisecond
	b := func(key string, def bool) bool {
		s, ok := cfg[key]
		if !ok || strings.TrimSpace(s) == "" {
			return def
		}
		v, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			probs = append(probs, problem(key, s, "must be true or false"))
			return def
		}
		return v
	}
	p.logEnable = b("errors.log.enable", false)
	p.logMessages = b("errors.log.include.messages", false)
	p.dlqContextProps = b("errors.deadletterqueue.context.properties.enable", true)
	p.dlqTopic = strings.TrimSpace(cfg["errors.deadletterqueue.topic.name"])
	if p.dlqTopic != "" && !rmqname.Topic(p.dlqTopic) {
		probs = append(probs, problem("errors.deadletterqueue.topic.name", p.dlqTopic, "not a valid RocketMQ topic name"))
	}
	return p, probs
}

// failedRecord is what is known about a record that failed at some stage.
type failedRecord struct {
	stage   string
	class   string // the plugin class or transform alias that failed
	topic   string
	queueID int
	offset  int64
	keys    []string
	body    []byte
	preview string            // for logs; set only when logsRecords
	props   map[string]string // the original message's user properties, kept for replay
	// rendered: body is a sink task's record rendered as text, not the original message's
	// bytes (which could not be read back); the DLQ marks it so that it is never replayed.
	rendered bool
	// undecodable: body is a message's stored bytes the worker could not decode; never replayed.
	undecodable bool
}

// bodyPreview is preview for a message body: at most its first 256 bytes are copied.
func bodyPreview(b []byte) string {
	if len(b) > 256 {
		return string(b[:256]) + "..."
	}
	return string(b)
}

// errorReporter applies a connector's error policy: it logs, writes the DLQ and decides
// whether a failed record is skipped (tolerated) or fails the task.
type errorReporter struct {
	policy    errorPolicy
	connector string
	task      int
	log       *slog.Logger
	dlq       func(ctx context.Context, m *rmqclient.Message) error
	metrics   *taskCounters
	scrub     func(string) string // hides the connector's secrets in DLQ context; nil: none
}

// logsRecords reports whether report logs a failed record's preview, so that callers
// render one (a copy of up to 256 bytes) only then.
func (r *errorReporter) logsRecords() bool {
	return r.policy.logMessages && (r.policy.logEnable || !r.policy.tolerateAll)
}

// writesDLQ reports whether report writes a failed record to the DLQ.
func (r *errorReporter) writesDLQ() bool {
	return r.policy.tolerateAll && r.policy.dlqTopic != "" && r.dlq != nil
}

// report handles one failed record. It returns nil when the record is tolerated (and, if
// configured, safely in the DLQ), or an error that must fail the task.
func (r *errorReporter) report(ctx context.Context, fr failedRecord, cause error) error {
	r.metrics.recordErrors.Add(1)
	if r.policy.logEnable || !r.policy.tolerateAll {
		attrs := []any{"connector", r.connector, "task", r.task, "stage", fr.stage, "class", fr.class,
			"topic", fr.topic, "queue", fr.queueID, "offset", fr.offset, "err", cause}
		if r.policy.logMessages && fr.preview != "" {
			attrs = append(attrs, "record", fr.preview)
		}
		r.log.Warn("record failed", attrs...)
	}
	if !r.policy.tolerateAll {
		return fmt.Errorf("stage %s (%s): %w", fr.stage, fr.class, cause)
	}
	r.metrics.recordsSkipped.Add(1)
	if !r.writesDLQ() {
		return nil
	}
	m := r.dlqMessage(fr, cause)
	if err := r.dlq(ctx, m); err != nil {
		r.metrics.dlqFailures.Add(1)
		return fmt.Errorf("write dead-letter queue %s: %w (original failure: %v)", r.policy.dlqTopic, err, cause)
	}
	r.metrics.dlqRecords.Add(1)
	return nil
}

// dlqMessage builds the DLQ message of a failed record: its bytes, keys and own properties,
// the marks a replay reads (always set, even without context properties, so that a replay
// never sends a part or a rendering as the record), and the error context. The properties
// are kept within RocketMQ's limit (see dlqMaxProps): past it, the record's own properties
// are dropped, then its keys, and the record is marked ErrHeaderPropsTruncated.
func (r *errorReporter) dlqMessage(fr failedRecord, cause error) *rmqclient.Message {
	m := &rmqclient.Message{Topic: r.policy.dlqTopic, Body: fr.body, Keys: fr.keys, Properties: map[string]string{}}
	if len(m.Body) == 0 {
		m.Body = []byte{} // RocketMQ accepts empty bodies only from some clients; keep explicit
	}
	marks := map[string]string{}
	if len(m.Body) > dlqMaxBody {
		// The whole record cannot be stored: keep its head, and say so.
		marks[ErrHeaderBodyTruncated] = "true"
		marks[ErrHeaderBodySize] = strconv.Itoa(len(fr.body))
		m.Body = m.Body[:dlqMaxBody]
	}
	if fr.rendered {
		marks[ErrHeaderBodyRendered] = "true"
	}
	if fr.undecodable {
		marks[ErrHeaderBodyUndecodable] = "true"
	}
	errCtx := map[string]string{}
	if r.policy.dlqContextProps {
		props := map[string]string{
			ErrHeaderTopic:      fr.topic,
			ErrHeaderPartition:  strconv.Itoa(fr.queueID),
			ErrHeaderOffset:     strconv.FormatInt(fr.offset, 10),
			ErrHeaderConnector:  r.connector,
			ErrHeaderTask:       strconv.Itoa(r.task),
			ErrHeaderStage:      fr.stage,
			ErrHeaderClass:      fr.class,
			ErrHeaderExcClass:   errorClass(cause),
			ErrHeaderExcMessage: cause.Error(),
			ErrHeaderExcStack:   errorTrace(cause),
			ErrHeaderTimestamp:  strconv.FormatInt(time.Now().UnixMilli(), 10),
		}
		if len(fr.keys) > 0 {
			props[ErrHeaderOriginalKeys] = strings.Join(fr.keys, " ")
		}
		for k, v := range props {
			if r.scrub != nil {
				v = r.scrub(v)
			}
			if k == ErrHeaderExcMessage || k == ErrHeaderExcStack {
				v = cutValue(v, dlqMaxContextValue)
			}
			if v = plainProperty(v); v != "" {
				errCtx[k] = v
			}
		}
	}
	own := map[string]string{}
	for k, v := range fr.props {
		if !strings.HasPrefix(k, ErrHeaderPrefix) {
			own[k] = v
		}
	}
	size := func() int {
		n := dlqPropsReserve + propsLen(marks) + propsLen(errCtx) + propsLen(own)
		if len(m.Keys) > 0 {
			n += len("KEYS") + len(strings.Join(m.Keys, " ")) + 2
		}
		return n
	}
	if size() > dlqMaxProps {
		// original.keys repeats the message's KEYS: dropping it loses nothing.
		delete(errCtx, ErrHeaderOriginalKeys)
	}
	if size() > dlqMaxProps {
		own = nil
		marks[ErrHeaderPropsTruncated] = "true"
	}
	if size() > dlqMaxProps {
		m.Keys = nil
	}
	for _, part := range []map[string]string{own, errCtx, marks} {
		for k, v := range part {
			m.Properties[k] = v
		}
	}
	return m
}

// propsLen is the encoded length of properties on the wire: name \x01 value \x02.
func propsLen(props map[string]string) int {
	n := 0
	for k, v := range props {
		n += len(k) + len(v) + 2
	}
	return n
}

// cutValue cuts v to at most limit bytes, on a character boundary, ending with how long it was.
func cutValue(v string, limit int) string { return cutMarked(v, limit, "cut") }

// cutMarked cuts v to at most limit bytes, on a character boundary, ending with
// " ... (<what>: <length of v> bytes)".
func cutMarked(v string, limit int, what string) string {
	if len(v) <= limit {
		return v
	}
	tail := fmt.Sprintf(" ... (%s: %d bytes)", what, len(v))
	cut := max(0, limit-len(tail))
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + tail
}

// errorClass names the innermost error's Go type, the analogue of a Java exception class.
func errorClass(err error) string {
	inner := err
	for {
		next := errors.Unwrap(inner)
		if next == nil {
			break
		}
		inner = next
	}
	return fmt.Sprintf("%T", inner)
}

// errorTrace lists the error chain, outermost first, one per line.
func errorTrace(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		fmt.Fprintf(&b, "%T: %s\n", e, e.Error())
	}
	return b.String()
}

// plainProperty makes a value safe for RocketMQ properties, whose wire format uses \x01
// and \x02 as separators.
func plainProperty(v string) string {
	return strings.Map(func(r rune) rune {
		if r == 1 || r == 2 {
			return ' '
		}
		return r
	}, v)
}

// retryFirstDelay is the wait before a retry's second attempt (doubling from there up to
// errors.retry.delay.max.ms).
const retryFirstDelay = 100 * time.Millisecond

// retrier retries an operation that failed with a plugins.RetriableError (or a retriable
// RocketMQ error), with exponential backoff capped by errors.retry.delay.max.ms, until
// errors.retry.timeout passes. Other errors return at once.
//
// As in Kafka Connect, the last attempt is made as the timeout ends: a delay that would pass
// it is cut short, so the operation is retried for the whole timeout. A task's backoff hint
// (RetriableError.Backoff) is a minimum wait: when it would pass the timeout, no attempt the
// task allows is left, and the retries end at once.
func (p errorPolicy) retry(ctx context.Context, op func() error, retriable func(error) bool) error {
	start := time.Now()
	delay := min(retryFirstDelay, p.retryDelayMax)
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !retriable(err) {
			return err
		}
		wait := delay
		var re *plugins.RetriableError
		hinted := errors.As(err, &re) && re.Backoff > 0
		if hinted {
			delay, wait = re.Backoff, re.Backoff
		}
		giveUp := p.retryTimeout == 0
		if p.retryTimeout > 0 {
			left := p.retryTimeout - time.Since(start)
			if !hinted {
				wait = min(wait, left)
			}
			giveUp = left <= 0 || wait > left
		}
		if giveUp {
			return fmt.Errorf("gave up after %d attempts in %s: %w", attempt, time.Since(start).Round(time.Millisecond), err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		delay = min(delay*2, p.retryDelayMax)
	}
}

// outage reports whether a conversion failed because a service it needs is unavailable (the
// schema registry, after the client's own retries): that says nothing about the record.
func outage(err error) bool { return errors.Is(err, registry.ErrUnavailable) }

// waitOutOutage handles a conversion that failed with err. An outage (see outage) is not the
// record's failure: convert is called again per the error policy's retries (at least two
// minutes of them when errors.retry.timeout is not set, as for a source's sends), and an
// outage that outlasts them fails the task instead of sending the record to the DLQ or
// skipping it — a registry restart used to drain a backlog into the DLQ, or drop a source's
// records while their positions advanced. Any other err is returned as it is, for the error
// policy to report against the record.
//
// A registry that refuses the converter's credentials (401, 403: a rotated password, a changed
// ACL) says nothing about the record either, and waiting does not mend it: the task fails at once,
// as it would after an outage, rather than drain every record into the DLQ.
func waitOutOutage(ctx context.Context, p errorPolicy, counters *taskCounters, err error, convert func() error) (retried, fatal error) {
	if refused(err) {
		return nil, refusedError(err)
	}
	if !outage(err) {
		return err, nil
	}
	// retry returns at once, unwrapped, an error that is not an outage.
	err = sendPolicy(p).retry(ctx, convert, counters.countRetries(outage))
	switch {
	case err == nil:
		return nil, nil
	case outage(err):
		return nil, fmt.Errorf("a service the converter needs is unavailable: %w", err)
	case refused(err):
		return nil, refusedError(err)
	default:
		return err, nil
	}
}

// refused reports whether a conversion failed because the schema registry refused the
// converter's credentials.
func refused(err error) bool { return errors.Is(err, registry.ErrUnauthorized) }

func refusedError(err error) error {
	return fmt.Errorf("the schema registry refused the converter's credentials (the user and password of its "+
		"schema.registry.url): %w", err)
}

// outageError fails a source task whose conversion outlasted an outage (waitOutOutage).
type outageError struct{ err error }

func (e *outageError) Error() string { return e.err.Error() }
func (e *outageError) Unwrap() error { return e.err }

// taskStart is how a task runner starts its task: start and stop call the task's Start and
// Stop, renew replaces the task object with a new one.
type taskStart struct {
	policy                    errorPolicy
	counters                  *taskCounters
	log                       *slog.Logger
	startTimeout, stopTimeout time.Duration
	start, stop               func(context.Context) error
	renew                     func()
}

// startTask starts a task. A Start failing with a RetriableError is logged and followed by
// Stop and, after a backoff, by a Start on a new task object (renew: the SPI starts and stops
// an object once) while errors.retry.timeout allows; the error of the last attempt is
// returned, and its Stop is left to the caller.
func startTask(work context.Context, ts taskStart) error {
	attempt := 0
	return ts.policy.retry(work, func() error {
		if attempt++; attempt > 1 {
			sctx, cancel := context.WithTimeout(context.Background(), ts.stopTimeout)
			defer cancel()
			if err := safeCall(func() error { return ts.stop(sctx) }); err != nil {
				ts.log.Warn("task stop after a failed start failed", "err", err)
			}
			ts.renew()
		}
		err := safeCall(func() error {
			sctx, cancel := withTimeout(work, ts.startTimeout)
			defer cancel()
			return ts.start(sctx)
		})
		if err != nil && plugins.IsRetriable(err) {
			ts.log.Warn("task start failed; retried within errors.retry.timeout", "attempt", attempt, "err", err)
		}
		return err
	}, ts.counters.countRetries(plugins.IsRetriable))
}
