package remoting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request codes used here (RocketMQ RequestCode).
const (
	CodeGetMaxOffset         = 30
	CodeGetMinOffset         = 31
	CodeGetConsumerList      = 38
	CodeQueryConsumerOffset  = 14
	CodeUpdateConsumerOffset = 15
	CodeGetRouteInfoByTopic  = 105
	CodeGetBrokerClusterInfo = 106
	CodeHeartBeat            = 34
	CodeUpdateAndCreateTopic = 17
)

// CodeNoPermission answers a request the broker's ACL refuses (no or unknown user, bad
// signature, or no permission).
const CodeNoPermission = 16

// CodeTopicNotExist is the response code for a topic the name server does not route.
const CodeTopicNotExist = 17

// maxFrame bounds a response so a confused peer cannot make us allocate without limit.
const maxFrame = 16 << 20

var opaqueSeq atomic.Int32

// ErrRemote is wrapped by every error a peer answered with a non-zero response code.
var ErrRemote = errors.New("remote error")

// Command is one remoting frame: a JSON header and an optional body.
type Command struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	Body      []byte            `json:"-"`

	frame *[]byte // the pooled buffer Body is in (see readFrame), for releaseFrame
}

// frames keeps response buffers given back by releaseFrame, for the connection readers.
var frames sync.Pool

// maxPooledFrame bounds the buffers kept: a pull of 32 small messages takes a few KiB.
const maxPooledFrame = 1 << 20

// releaseFrame gives c's buffer back for another response to be read into: call it only
// when nothing of c's header strings aside, Body included, is used any more.
func (c *Command) releaseFrame() {
	if c.frame == nil {
		return
	}
	b := c.frame
	c.frame, c.Body = nil, nil
	if cap(*b) <= maxPooledFrame {
		frames.Put(b)
	}
}

// Encode writes the frame: int32 total length, int32 (serialize type << 24 | header
// length), header, body. The header is JSON (serialize type 0), as every peer reads it.
func (c *Command) Encode() ([]byte, error) {
	hdr, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 8, 8+len(hdr)+len(c.Body))
	binary.BigEndian.PutUint32(buf[0:4], uint32(4+len(hdr)+len(c.Body)))
	binary.BigEndian.PutUint32(buf[4:8], uint32(len(hdr))) // serialize type 0 = JSON
	buf = append(buf, hdr...)
	return append(buf, c.Body...), nil
}

// EncodeBinary writes the frame with RocketMQ's binary header (serialize type 1), which
// brokers and name servers read and answer in kind.
func (c *Command) EncodeBinary() []byte {
	buf := make([]byte, 8, 8+64+32*len(c.ExtFields)+len(c.Remark)+len(c.Body))
	buf = appendBinaryHeader(buf, c)
	hlen := len(buf) - 8
	binary.BigEndian.PutUint32(buf[0:4], uint32(4+hlen+len(c.Body)))
	binary.BigEndian.PutUint32(buf[4:8], uint32(serializeBinary<<24|hlen))
	return append(buf, c.Body...)
}

// Decode reads one frame from r (a JSON or a binary header).
func Decode(r io.Reader) (*Command, error) { return readFrame(r, false) }

// readFrame is Decode, reading into a buffer of frames when pooled is set.
func readFrame(r io.Reader, pooled bool) (*Command, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, err
	}
	total := int(binary.BigEndian.Uint32(pre[0:4]))
	mark := binary.BigEndian.Uint32(pre[4:8])
	if st := mark >> 24; st != 0 && st != serializeBinary {
		return nil, fmt.Errorf("unsupported serialize type %d", st)
	}
	hlen := int(mark & 0xFFFFFF)
	if total < 4 || total > maxFrame || hlen > total-4 {
		return nil, fmt.Errorf("bad frame: length %d, header %d", total, hlen)
	}
	var c Command
	var rest []byte
	if pooled && total-4 <= maxPooledFrame {
		if b, ok := frames.Get().(*[]byte); ok && cap(*b) >= total-4 {
			c.frame, rest = b, (*b)[:total-4]
		} else {
			rest = make([]byte, total-4)
			c.frame = &rest
		}
	} else {
		rest = make([]byte, total-4)
	}
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	if mark>>24 == serializeBinary {
		if err := decodeBinaryHeader(rest[:hlen], &c); err != nil {
			return nil, err
		}
	} else if !decodeJSONHeader(rest[:hlen], &c) {
		c = Command{}
		if err := json.Unmarshal(rest[:hlen], &c); err != nil {
			return nil, fmt.Errorf("decode header: %w", err)
		}
	}
	c.Body = rest[hlen:]
	return &c, nil
}

// Credentials are a RocketMQ ACL access key and secret key. A Client with both set signs
// every request as the broker's ACL expects (see Sign); empty means unsigned requests.
type Credentials struct {
	AccessKey string
	SecretKey string
}

// Client sends requests to name servers and brokers: over the connections of Pool when it
// is set, else one connection per request. The zero value sends unsigned requests; it is
// safe for concurrent use.
type Client struct {
	Credentials Credentials
	// Timeout bounds a request whose context has no deadline; zero means 5s.
	Timeout time.Duration
	// Pool, when set, keeps the connections between requests (see Pool).
	Pool *Pool
}

// Sign adds the ACL fields to ext (which must not be nil): AccessKey, and Signature, the
// base64 HMAC-SHA1 under the secret key of every ext field value (AccessKey included,
// Signature excluded) in key order followed by the body. This is what RocketMQ's
// AclClientRPCHook computes and what the broker's authentication (ACL 1.0 and 2.0)
// checks.
func (cr Credentials) Sign(ext map[string]string, body []byte) {
	ext["AccessKey"] = cr.AccessKey
	delete(ext, "Signature")
	keys := make([]string, 0, len(ext))
	for k := range ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(cr.SecretKey))
	for _, k := range keys {
		mac.Write([]byte(ext[k]))
	}
	mac.Write(body)
	ext["Signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (cr Credentials) set() bool { return cr.AccessKey != "" && cr.SecretKey != "" }

// Call sends one request to addr and returns the matching response. A non-zero response code
// is returned as an error wrapping ErrRemote. The context's deadline bounds dial, write and read.
func (cl Client) Call(ctx context.Context, addr string, code int, ext map[string]string) (*Command, error) {
	return cl.CallBody(ctx, addr, code, ext, nil)
}

// CallBody is Call with a request body. ext is not modified.
func (cl Client) CallBody(ctx context.Context, addr string, code int, ext map[string]string, body []byte) (*Command, error) {
	resp, err := cl.Do(ctx, addr, code, ext, body)
	if err != nil {
		return nil, err
	}
	if resp.Code != 0 {
		return resp, &RemoteError{Code: resp.Code, Remark: resp.Remark}
	}
	return resp, nil
}

// Do sends one request and returns the response whatever its code (for requests whose
// non-zero codes are answers, such as a pull's "no new message"). ext is not modified.
func (cl Client) Do(ctx context.Context, addr string, code int, ext map[string]string, body []byte) (*Command, error) {
	return cl.do(ctx, addr, code, ext, body, 0)
}

// do is Do for a request the peer may rightly hold unanswered for up to hold (see
// conn.roundTrip).
func (cl Client) do(ctx context.Context, addr string, code int, ext map[string]string, body []byte, hold time.Duration) (*Command, error) {
	if cl.Credentials.set() {
		signed := make(map[string]string, len(ext)+2)
		for k, v := range ext {
			signed[k] = v
		}
		cl.Credentials.Sign(signed, body)
		ext = signed
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := cl.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req := &Command{Code: code, Language: "GO", Version: 317, Opaque: opaqueSeq.Add(1), ExtFields: ext, Body: body}
	frame := req.EncodeBinary()
	if cl.Pool == nil {
		return roundTripOnce(ctx, addr, req, frame)
	}
	for attempt := 0; ; attempt++ {
		c, err := cl.Pool.get(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, sent, err := c.roundTrip(ctx, req, frame, hold)
		if err != nil && !sent && attempt == 0 && ctx.Err() == nil {
			continue // the kept connection had broken before the request left: dial anew
		}
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return resp, err
	}
}

// roundTripOnce sends req over a connection of its own.
func roundTripOnce(ctx context.Context, addr string, req *Command, frame []byte) (*Command, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	for {
		resp, err := Decode(conn)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if resp.Flag&1 == 0 || resp.Opaque != req.Opaque {
			continue // a request pushed by the peer, or a stray answer: not ours
		}
		return resp, nil
	}
}

// ClusterInfo is the name server's view of brokers: broker name → broker id → address.
type ClusterInfo struct {
	Brokers  map[string]BrokerData `json:"brokerAddrTable"`
	Clusters map[string][]string   `json:"clusterAddrTable"`
}

// BrokerData lists the addresses of one broker set by broker id (0 = master).
type BrokerData struct {
	Cluster    string            `json:"cluster"`
	BrokerName string            `json:"brokerName"`
	Addrs      map[string]string `json:"brokerAddrs"`
}

// MasterAddrs returns the master (id 0) address of every broker, sorted by broker name.
func (ci *ClusterInfo) MasterAddrs() map[string]string {
	out := make(map[string]string, len(ci.Brokers))
	for name, b := range ci.Brokers {
		if a, ok := b.Addrs["0"]; ok {
			out[name] = a
		}
	}
	return out
}

// GetClusterInfo asks a name server for the brokers it knows.
func (cl Client) GetClusterInfo(ctx context.Context, namesrv string) (*ClusterInfo, error) {
	resp, err := cl.Call(ctx, namesrv, CodeGetBrokerClusterInfo, nil)
	if err != nil {
		return nil, err
	}
	var ci ClusterInfo
	if err := json.Unmarshal(QuoteIntKeys(resp.Body), &ci); err != nil {
		return nil, fmt.Errorf("decode cluster info: %w", err)
	}
	return &ci, nil
}

// TopicRoute is the name server's route for one topic.
type TopicRoute struct {
	Queues  []QueueData  `json:"queueDatas"`
	Brokers []BrokerData `json:"brokerDatas"`
}

// QueueData is the queue layout of a topic on one broker.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
}

// GetRoute asks a name server for a topic's route, bypassing any client-side cache.
// A topic the name server does not know gives an error wrapping ErrRemote with code 17.
func (cl Client) GetRoute(ctx context.Context, namesrv, topic string) (*TopicRoute, error) {
	resp, err := cl.Call(ctx, namesrv, CodeGetRouteInfoByTopic, map[string]string{"topic": topic})
	if err != nil {
		return nil, err
	}
	var r TopicRoute
	if err := json.Unmarshal(QuoteIntKeys(resp.Body), &r); err != nil {
		return nil, fmt.Errorf("decode route of %s: %w", topic, err)
	}
	return &r, nil
}

// IsCode reports whether err is a remote answer with the given response code.
func IsCode(err error, code int) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Code == code
}

// RemoteError is a non-zero response code from a peer.
type RemoteError struct {
	Code   int
	Remark string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Remark) }

// Unwrap lets errors.Is(err, ErrRemote) match.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// GetMaxOffset asks a broker for the next offset to be written in a queue.
func (cl Client) GetMaxOffset(ctx context.Context, broker, topic string, queueID int) (int64, error) {
	return cl.getOffset(ctx, broker, CodeGetMaxOffset, topic, queueID)
}

// GetMinOffset asks a broker for the oldest offset still stored in a queue.
func (cl Client) GetMinOffset(ctx context.Context, broker, topic string, queueID int) (int64, error) {
	return cl.getOffset(ctx, broker, CodeGetMinOffset, topic, queueID)
}

func (cl Client) getOffset(ctx context.Context, broker string, code int, topic string, queueID int) (int64, error) {
	resp, err := cl.Call(ctx, broker, code, map[string]string{"topic": topic, "queueId": strconv.Itoa(queueID)})
	if err != nil {
		return 0, err
	}
	v, ok := resp.ExtFields["offset"]
	if !ok {
		return 0, fmt.Errorf("offset missing from response to code %d", code)
	}
	return strconv.ParseInt(v, 10, 64)
}

// CodeQueryNotFound answers a consumer-offset query for a group with no stored offset.
const CodeQueryNotFound = 22

// QueryConsumerOffset asks a broker for a group's committed offset in one queue; found is
// false when the group has none there.
func (cl Client) QueryConsumerOffset(ctx context.Context, broker, group, topic string, queueID int) (offset int64, found bool, err error) {
	// setZeroIfNotFound false: otherwise a broker answers a group that never committed in a
	// queue whose first message is still at offset 0 (and in memory) with offset 0, which
	// reads as a committed offset.
	resp, err := cl.Call(ctx, broker, CodeQueryConsumerOffset, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queueID), "setZeroIfNotFound": "false"})
	if IsCode(err, CodeQueryNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, ok := resp.ExtFields["offset"]
	if !ok {
		return 0, false, fmt.Errorf("offset missing from response to code %d", CodeQueryConsumerOffset)
	}
	off, err := strconv.ParseInt(v, 10, 64)
	return off, err == nil, err
}

// UpdateConsumerOffset sets a group's committed offset in one queue and waits for the
// broker's acknowledgement (the client library only sends this one way).
func (cl Client) UpdateConsumerOffset(ctx context.Context, broker, group, topic string, queueID int, offset int64) error {
	_, err := cl.Call(ctx, broker, CodeUpdateConsumerOffset, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queueID), "commitOffset": strconv.FormatInt(offset, 10)})
	return err
}

// CodeSubscriptionGroupNotExist answers an offset update for a group the broker does not know.
const CodeSubscriptionGroupNotExist = 26

// CodeUpdateAndCreateSubscriptionGroup creates or updates a consumer group's config.
const CodeUpdateAndCreateSubscriptionGroup = 200

// CreateSubscriptionGroup creates a consumer group on a broker with default settings.
func (cl Client) CreateSubscriptionGroup(ctx context.Context, broker, group string) error {
	body, err := json.Marshal(map[string]any{
		"groupName": group, "consumeEnable": true, "consumeFromMinEnable": true, "consumeBroadcastEnable": true,
		"retryQueueNums": 1, "retryMaxTimes": 16, "brokerId": 0, "whichBrokerWhenConsumeSlowly": 1,
		"notifyConsumerIdsChangedEnable": true,
	})
	if err != nil {
		return err
	}
	_, err = cl.CallBody(ctx, broker, CodeUpdateAndCreateSubscriptionGroup, nil, body)
	return err
}

// CreateTopic creates or updates a topic on one broker with queues read and write queues,
// readable and writable, and waits for the broker's answer (a refusal is an error).
func (cl Client) CreateTopic(ctx context.Context, broker, topic string, queues int, order bool) error {
	_, err := cl.Call(ctx, broker, CodeUpdateAndCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": strconv.Itoa(queues), "writeQueueNums": strconv.Itoa(queues),
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": strconv.FormatBool(order)})
	return err
}

// CheckAuth sends a broker an empty heartbeat (no producer or consumer groups, so nothing is
// registered and no permission is needed): a broker with authentication enabled answers
// CodeNoPermission unless the request is signed by a user it knows.
func (cl Client) CheckAuth(ctx context.Context, broker, clientID string) error {
	body, err := json.Marshal(map[string]any{"clientID": clientID, "producerDataSet": []any{}, "consumerDataSet": []any{}})
	if err != nil {
		return err
	}
	_, err = cl.CallBody(ctx, broker, CodeHeartBeat, nil, body)
	return err
}

// GetConsumerList asks a broker for the client ids in a consumer group.
func (cl Client) GetConsumerList(ctx context.Context, broker, group string) ([]string, error) {
	resp, err := cl.Call(ctx, broker, CodeGetConsumerList, map[string]string{"consumerGroup": group})
	if err != nil {
		return nil, err
	}
	var body struct {
		IDs []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("decode consumer list: %w", err)
	}
	return body.IDs, nil
}

// QuoteIntKeys turns fastjson's unquoted integer map keys ({0:"a"}) into valid JSON ({"0":"a"}).
// It tracks string literals so digits inside strings are left alone.
func QuoteIntKeys(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out.WriteByte(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			out.WriteByte(c)
			continue
		}
		out.WriteByte(c)
		if c == '{' || c == ',' {
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\n') {
				j++
			}
			k := j
			if k < len(b) && b[k] == '-' {
				k++
			}
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			if k > j && k < len(b) && b[k] == ':' {
				out.WriteByte('"')
				out.Write(b[j:k])
				out.WriteByte('"')
				i = k - 1
			}
		}
	}
	return out.Bytes()
}
