package remoting

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Pull request and response codes (RocketMQ RequestCode and ResponseCode).
const (
	CodePullMessage          = 11
	CodePullNotFound         = 19
	CodePullRetryImmediately = 20
	CodePullOffsetMoved      = 21
)

// Pull sysFlag bits (PullSysFlag).
const (
	pullFlagSuspend      = 1 << 1
	pullFlagSubscription = 1 << 2
)

// PullStatus is what a pull found.
type PullStatus int

const (
	// PullFound: Messages holds messages from the requested offset on.
	PullFound PullStatus = iota
	// PullNoNew: nothing at or after the offset yet (after the broker held the request
	// for up to Suspend).
	PullNoNew
	// PullRetry: the broker asked for the pull to be sent again.
	PullRetry
	// PullOffsetMoved: the offset is outside the queue's stored range; read from Next.
	PullOffsetMoved
)

// PullRequest reads one queue from Offset for a consumer group.
type PullRequest struct {
	Group   string
	Topic   string
	QueueID int
	Offset  int64
	Max     int
	// Suspend is how long the broker may hold the request when there is nothing at Offset
	// yet (long polling); zero answers at once.
	Suspend time.Duration
}

// PullResult is a broker's answer to a pull.
type PullResult struct {
	Status   PullStatus
	Next     int64 // offset to pull next
	Min, Max int64 // the queue's stored range as the broker answered (Max: next to write)
	// Remark is the broker's reason in words: its store's GetMessageStatus (FOUND,
	// OFFSET_OVERFLOW_ONE, MESSAGE_WAS_REMOVING, OFFSET_FOUND_NULL, ...).
	Remark   string
	Messages []Message
	pooled   bool     // Messages came from msgSlices
	resp     *Command // the response, whose buffer Release gives back
}

// msgSlices keeps the decoded-message slices of pulls whose caller released them.
var msgSlices = sync.Pool{New: func() any { return new([]Message) }}

// Release gives Messages and the response's buffer back for later pulls to reuse: call
// it at most once, when Messages are no longer read. Each message's Body stays valid (it is
// copied out of the response); Properties and StoreHost do not.
func (r *PullResult) Release() {
	if r.resp != nil {
		r.resp.releaseFrame()
		r.resp = nil
	}
	if !r.pooled {
		return
	}
	msgs := r.Messages
	clear(msgs) // let the response buffer go
	r.Messages, r.pooled = nil, false
	msgSlices.Put(&msgs)
}

// Pull sends one pull request to a broker. The context bounds the call; when it has no
// deadline, the call may take Suspend plus the client's Timeout (at least 10 s with Suspend).
func (cl Client) Pull(ctx context.Context, broker string, req PullRequest) (*PullResult, error) {
	flag := pullFlagSubscription
	if req.Suspend > 0 {
		flag |= pullFlagSuspend
	}
	ext := map[string]string{
		"consumerGroup":        req.Group,
		"topic":                req.Topic,
		"queueId":              strconv.Itoa(req.QueueID),
		"queueOffset":          strconv.FormatInt(req.Offset, 10),
		"maxMsgNums":           strconv.Itoa(req.Max),
		"sysFlag":              strconv.Itoa(flag),
		"commitOffset":         "0",
		"suspendTimeoutMillis": strconv.FormatInt(req.Suspend.Milliseconds(), 10),
		"subscription":         "*",
		"subVersion":           "0",
		"expressionType":       "TAG",
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := cl.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		if req.Suspend > 0 {
			// A broker answers a held pull at the first check of its hold service (every 5 s)
			// after Suspend, not at Suspend: a shorter margin times out empty long polls.
			timeout = max(timeout, 10*time.Second)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Suspend+timeout)
		defer cancel()
	}
	resp, err := cl.do(ctx, broker, CodePullMessage, ext, nil, req.Suspend)
	if err != nil {
		return nil, err
	}
	res := &PullResult{Next: req.Offset, Remark: resp.Remark}
	switch resp.Code {
	case 0:
		res.Status = PullFound
	case CodePullNotFound:
		res.Status = PullNoNew
	case CodePullRetryImmediately:
		res.Status = PullRetry
	case CodePullOffsetMoved:
		res.Status = PullOffsetMoved
	default:
		return nil, &RemoteError{Code: resp.Code, Remark: resp.Remark}
	}
	for key, dst := range map[string]*int64{"nextBeginOffset": &res.Next, "minOffset": &res.Min, "maxOffset": &res.Max} {
		if v, ok := resp.ExtFields[key]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("pull response %s %q: %w", key, v, err)
			}
			*dst = n
		}
	}
	if res.Status != PullFound {
		return res, nil
	}
	buf := msgSlices.Get().(*[]Message)
	res.Messages, res.pooled = (*buf)[:0], true
	var bad *DecodeError
	res.Messages, bad = appendMessages(res.Messages, resp.Body, req.Offset)
	if resp.frame != nil {
		// The bodies go to one buffer of their own, so the response's buffer (headers,
		// properties, a stored message's bookkeeping: two thirds of it for small
		// messages) can be reused once the caller is done.
		copyBodies(res.Messages, resp.Body)
		res.resp = resp
	}
	if bad != nil {
		// The messages before the bad one are good and returned; reading on from it is the
		// caller's choice (skip it at bad.Offset+1, or stop).
		res.Next = bad.Offset
		return res, fmt.Errorf("pull %s#%d at %d: %w", req.Topic, req.QueueID, req.Offset, bad)
	}
	return res, nil
}

// copyBodies moves the bodies of msgs that are in buf (not inflated ones) to one new
// buffer; an empty one becomes an empty slice of its own.
func copyBodies(msgs []Message, buf []byte) {
	n := 0
	for i := range msgs {
		if b := msgs[i].Body; len(b) > 0 && inBuffer(b, buf) {
			n += len(b)
		}
	}
	bodies := make([]byte, 0, n)
	for i := range msgs {
		b := msgs[i].Body
		switch {
		case len(b) == 0:
			msgs[i].Body = []byte{}
		case inBuffer(b, buf):
			start := len(bodies)
			bodies = append(bodies, b...)
			msgs[i].Body = bodies[start:len(bodies):len(bodies)]
		}
	}
}

// inBuffer reports whether the non-empty b starts inside buf's array.
func inBuffer(b, buf []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf[:cap(buf)])))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p < start+uintptr(cap(buf))
}

// Message is one stored message as a pull returns it. Body and Properties share the
// response's buffer.
type Message struct {
	QueueID        int32
	QueueOffset    int64
	PhysicalOffset int64
	SysFlag        int32
	BornTimestamp  int64  // ms
	StoreTimestamp int64  // ms
	StoreHost      []byte // ip then port, 8 or 20 bytes
	ReconsumeTimes int32
	Body           []byte
	// Properties are the raw properties: name 0x01 value 0x02 ... (see ForEachProperty).
	Properties []byte
}

// Stored-message layout constants (MessageDecoder, MessageSysFlag). Bits 8-10 of the
// sysflag name the compression of a compressed body (COMPRESSION_TYPE_COMPARATOR, RocketMQ
// 5.x; CompressionType.findByValue): 1 LZ4, 2 ZSTD, 3 ZLIB, and 0, from clients older than
// the types, zlib.
const (
	magicV1          = int32(-626843481) // 0xDAA320A7
	magicV2          = int32(-626843477) // 0xDAA320AB: two-byte topic length
	sysFlagCompress  = 1 << 0
	sysFlagBornV6    = 1 << 4
	sysFlagStoreV6   = 1 << 5
	compressTypeMask = 0x7 << 8
	compressLZ4      = 0x1 << 8
	compressZstd     = 0x2 << 8
	compressZlib     = 0x3 << 8
)

// ErrBadMessage is wrapped by every decoding failure of a stored message.
var ErrBadMessage = errors.New("malformed stored message")

// DecodeError is a stored message that cannot be decoded (a compression this package does
// not know, a corrupt compressed body, broken framing). It wraps ErrBadMessage.
type DecodeError struct {
	// Offset is the message's queue offset: read from its header, or, when the header
	// cannot be read, the offset after the message before it (a queue's messages come at
	// consecutive offsets), or the offset the pull asked for.
	Offset int64
	// Stored is the message's body as stored (still compressed), a copy; nil when the
	// framing is broken.
	Stored []byte
	// Properties are the message's raw properties (see ForEachProperty), a copy; nil when
	// the framing is broken.
	Properties []byte
	Err        error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("message at offset %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeMessages splits a pull response body into messages, inflating compressed bodies
// (zlib, LZ4 frames and zstd, as RocketMQ's clients compress). A message that cannot be
// decoded ends the split: the messages before it are returned with a *DecodeError, the
// first offset of the body taken as 0.
func DecodeMessages(b []byte) ([]Message, error) {
	out, bad := appendMessages(make([]Message, 0, countMessages(b)), b, 0)
	if bad != nil {
		return out, bad
	}
	return out, nil
}

// appendMessages appends the messages of b, whose first message is at queue offset first,
// to out, up to the first one that cannot be decoded, which is returned as a DecodeError.
func appendMessages(out []Message, b []byte, first int64) ([]Message, *DecodeError) {
	out = slices.Grow(out, countMessages(b))
	n0 := len(out)
	for len(b) > 0 {
		m, n, err := decodeMessage(b)
		if err != nil {
			bad := &DecodeError{Offset: first, Err: err}
			switch {
			case n > 0: // framed: its header was read
				bad.Offset = m.QueueOffset
				bad.Stored = slices.Clone(m.Body)
				bad.Properties = slices.Clone(m.Properties)
			case len(out) > n0:
				bad.Offset = out[len(out)-1].QueueOffset + 1
			}
			return out, bad
		}
		out = append(out, m)
		b = b[n:]
	}
	return out, nil
}

// countMessages returns how many messages b holds by their sizes (a bound for the slice
// DecodeMessages makes; decodeMessage checks each).
func countMessages(b []byte) int {
	n := 0
	for len(b) >= 4 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			break
		}
		b = b[size:]
		n++
	}
	return n + 1
}

type cursor struct {
	b   []byte
	pos int
	bad bool
}

func (c *cursor) take(n int) []byte {
	if c.bad || n < 0 || c.pos+n > len(c.b) {
		c.bad = true
		return nil
	}
	s := c.b[c.pos : c.pos+n]
	c.pos += n
	return s
}

func (c *cursor) i32() int32 {
	s := c.take(4)
	if s == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(s))
}

func (c *cursor) i64() int64 {
	s := c.take(8)
	if s == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(s))
}

func (c *cursor) u16() int {
	s := c.take(2)
	if s == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(s))
}

func decodeMessage(b []byte) (Message, int, error) {
	var m Message
	if len(b) < 8 {
		return m, 0, fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(b))
	}
	total := int(binary.BigEndian.Uint32(b))
	if total < 8 || total > len(b) {
		return m, 0, fmt.Errorf("%w: size %d of %d bytes", ErrBadMessage, total, len(b))
	}
	c := &cursor{b: b[:total], pos: 4}
	magic := c.i32()
	if magic != magicV1 && magic != magicV2 {
		return m, 0, fmt.Errorf("%w: magic code %#x", ErrBadMessage, uint32(magic))
	}
	c.take(4) // body CRC
	m.QueueID = c.i32()
	c.take(4) // flag
	m.QueueOffset = c.i64()
	m.PhysicalOffset = c.i64()
	m.SysFlag = c.i32()
	m.BornTimestamp = c.i64()
	if m.SysFlag&sysFlagBornV6 != 0 {
		c.take(20)
	} else {
		c.take(8)
	}
	m.StoreTimestamp = c.i64()
	if m.SysFlag&sysFlagStoreV6 != 0 {
		m.StoreHost = c.take(20)
	} else {
		m.StoreHost = c.take(8)
	}
	m.ReconsumeTimes = c.i32()
	c.take(8) // prepared transaction offset
	m.Body = c.take(int(c.i32()))
	if magic == magicV2 {
		c.take(c.u16())
	} else if s := c.take(1); s != nil {
		c.take(int(s[0]))
	}
	m.Properties = c.take(c.u16())
	if c.bad {
		return m, 0, fmt.Errorf("%w: fields overrun size %d", ErrBadMessage, total)
	}
	if m.SysFlag&sysFlagCompress != 0 {
		body, err := inflate(m.SysFlag&compressTypeMask, m.Body)
		if err != nil {
			// Framed all the same: total is returned with the message as read so far.
			return m, total, fmt.Errorf("%w: compressed body: %w", ErrBadMessage, err)
		}
		m.Body = body
	}
	return m, total, nil
}

// inflate returns the body b compressed with kind (the sysflag's compression type bits):
// zlib (as the Go client and older Java clients compress), an LZ4 frame (Java's
// Lz4Compressor writes one with lz4-java's LZ4FrameOutputStream) or a zstd frame (zstd-jni's
// ZstdOutputStream). A body that inflates past maxFrame is refused, as a frame would be.
func inflate(kind int32, b []byte) ([]byte, error) {
	switch kind {
	case 0, compressZlib:
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return readAllBounded("zlib", zr)
	case compressLZ4:
		return readAllBounded("lz4", lz4.NewReader(bytes.NewReader(b)))
	case compressZstd:
		d, err := zstdDecoder()
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		body, err := d.DecodeAll(b, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return body, nil
	default:
		return nil, fmt.Errorf("compression type %d is not supported (zlib 0 or 3, lz4 1, zstd 2)", kind>>8)
	}
}

// readAllBounded reads r to its end, refusing more than maxFrame bytes.
func readAllBounded(kind string, r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxFrame+1))
	if err == nil && len(body) > maxFrame {
		err = errors.New("inflates past 16 MiB")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return body, nil
}

// zstdDecoder is one decoder for every zstd body: DecodeAll is safe for concurrent use, and
// a decoder made without a reader starts no goroutine. It refuses output past maxFrame.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxFrame))
})

// ForEachProperty calls f with each name and value of raw properties (name 0x01 value 0x02).
func ForEachProperty(raw []byte, f func(name, value string)) {
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, 2)
		item := raw
		if end >= 0 {
			item, raw = raw[:end], raw[end+1:]
		} else {
			raw = nil
		}
		if sep := bytes.IndexByte(item, 1); sep > 0 {
			f(string(item[:sep]), string(item[sep+1:]))
		}
	}
}

// OffsetMsgID is the message id the broker derives from where it stored m: the store
// host's address and port then the physical offset, in upper-case hex.
func (m *Message) OffsetMsgID() string {
	return string(m.AppendOffsetMsgID(nil))
}

// AppendOffsetMsgID appends m's OffsetMsgID to b: 2 × (len(StoreHost) + 8) bytes.
func (m *Message) AppendOffsetMsgID(b []byte) []byte {
	const digits = "0123456789ABCDEF"
	var buf [28]byte
	n := copy(buf[:], m.StoreHost)
	binary.BigEndian.PutUint64(buf[n:], uint64(m.PhysicalOffset))
	for _, c := range buf[:n+8] {
		b = append(b, digits[c>>4], digits[c&0xF])
	}
	return b
}
