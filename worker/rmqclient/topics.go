package rmqclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// Request codes of RocketMQ's RequestCode used here.
const (
	codeGetAllTopicList      = 206 // GET_ALL_TOPIC_LIST_FROM_NAMESERVER
	codeDeleteTopicInBroker  = 215 // DELETE_TOPIC_IN_BROKER
	codeDeleteTopicInNamesrv = 216 // DELETE_TOPIC_IN_NAMESRV
)

// ListTopics returns, sorted, every topic any name server that answers knows (joined as
// routes are: one that has just restarted knows only the topics of the brokers that
// registered again since, and topics missing from its list do not look deleted), system
// topics (RMQ_SYS_*, TBW102, %RETRY%..., the cluster and broker names) included.
func (c *Client) ListTopics(ctx context.Context) ([]string, error) {
	answers := askAll(ctx, c.cfg.NameServers, c.cfg.OperationTimeout,
		func(ctx context.Context, ns string) ([]string, error) {
			resp, err := c.rpc.Call(ctx, ns, codeGetAllTopicList, nil)
			if err != nil {
				return nil, err
			}
			var body struct {
				Topics []string `json:"topicList"`
			}
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				return nil, fmt.Errorf("decode topic list: %w", err)
			}
			return body.Topics, nil
		})
	var out []string
	seen := make(map[string]bool)
	answered := false
	var errs []error
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, fmt.Errorf("name server %s: %w", a.ns, a.err))
			continue
		}
		answered = true
		for _, t := range a.val {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	if !answered {
		return nil, fmt.Errorf("list topics: %w: %w", ErrUnreachable, errors.Join(errs...))
	}
	sort.Strings(out)
	return out, nil
}

// deletedDespite reports whether a broker's failure to delete a topic came after the
// deletion: RocketMQ 5.3 brokers with timerWheelEnable=false (as rocketmq-local.sh runs
// them) remove the topic and its queues, then fail with a NullPointerException while
// updating timer metrics.
func deletedDespite(err error) bool {
	var re *remoting.RemoteError
	return errors.As(err, &re) && re.Code == 1 && strings.Contains(re.Remark, "getTimerMetrics")
}

// DeleteTopic deletes a topic and its messages from every broker master, then its route
// from every name server.
func (c *Client) DeleteTopic(ctx context.Context, topic string) error {
	brokers, err := c.Brokers(ctx)
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	for _, b := range brokers {
		_, err := c.rpc.Call(ctx, b.Addr, codeDeleteTopicInBroker, map[string]string{"topic": topic})
		if err != nil && !deletedDespite(err) {
			return fmt.Errorf("delete topic %s on broker %s (%s): %w", topic, b.Name, b.Addr, err)
		}
	}
	for _, ns := range c.cfg.NameServers {
		if _, err := c.rpc.Call(ctx, ns, codeDeleteTopicInNamesrv, map[string]string{"topic": topic}); err != nil {
			return fmt.Errorf("delete topic %s on name server %s: %w", topic, ns, err)
		}
	}
	return nil
}
