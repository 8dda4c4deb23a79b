package worker

import (
	"context"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"time"
)

// clusterReplays keeps DLQ replay records in the config topic.
type clusterReplays struct{ d *Distributed }

func (r clusterReplays) replayed(name string) map[string]restapi.ReplayInfo {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	out := map[string]restapi.ReplayInfo{}
	if c := r.d.config.Connectors[name]; c != nil {
		for id, info := range c.Replays {
			if info.MsgID != "" {
				out[id] = info
			}
		}
	}
	return out
}

func (r clusterReplays) begin(ctx context.Context, name, id string, force bool) error {
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Force: force,
		Replay: &restapi.ReplayInfo{At: time.Now().UTC()}})
}

func (r clusterReplays) finish(ctx context.Context, name, id string, info restapi.ReplayInfo) error {
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Replay: &info})
}

func (r clusterReplays) abandon(name, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Abandon: true,
		Replay: &restapi.ReplayInfo{}}); err != nil {
		r.d.log.Warn("a failed DLQ replay stays taken; replay it with force", "connector", name, "record", id, "err", err)
	}
}
