package admintest

import (
	"context"
	"fmt"
	"slices"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// The optional abilities the admin server looks for (admin.OffsetsHerder, admin.DLQHerder,
// admin.PluginConfigHerder): a Herder has all of them, so every route group is served.

// Replay is one DLQReplay call.
type Replay struct {
	Connector string
	IDs       []string
	Force     bool
}

// SetOffsets replaces a connector's stored offsets; the connector must exist.
func (h *Herder) SetOffsets(name string, offs []restapi.ConnectorOffset) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[name].offsets = append([]restapi.ConnectorOffset(nil), offs...)
}

// OffsetAlterations returns the offsets of every successful AlterOffsets call, in order.
func (h *Herder) OffsetAlterations() [][]restapi.ConnectorOffset {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]restapi.ConnectorOffset(nil), h.altered...)
}

// Offsets returns a connector's stored offsets.
func (h *Herder) Offsets(_ context.Context, name string) (restapi.ConnectorOffsets, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.ConnectorOffsets{}, err
	}
	return restapi.ConnectorOffsets{Offsets: append([]restapi.ConnectorOffset{}, c.offsets...)}, nil
}

// stopped returns the connector if it exists and is stopped, as altering or resetting its
// offsets requires; restapi.ErrNotStopped otherwise.
func (h *Herder) stopped(name string) (*conn, error) {
	c, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	if c.target != restapi.TargetStopped {
		return nil, fmt.Errorf("connector %s is %s; stop it before changing its offsets: %w", name, c.target, restapi.ErrNotStopped)
	}
	return c, nil
}

// AlterOffsets records offs and applies them to a stopped connector: an entry replaces the
// stored offset of its partition, one with a nil offset removes the partition.
func (h *Herder) AlterOffsets(_ context.Context, name string, offs []restapi.ConnectorOffset) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.stopped(name)
	if err != nil {
		return err
	}
	h.altered = append(h.altered, append([]restapi.ConnectorOffset(nil), offs...))
	for _, o := range offs {
		i := slices.IndexFunc(c.offsets, func(s restapi.ConnectorOffset) bool { return fmt.Sprint(s.Partition) == fmt.Sprint(o.Partition) })
		switch {
		case i >= 0 && o.Offset == nil:
			c.offsets = slices.Delete(c.offsets, i, i+1)
		case i >= 0:
			c.offsets[i] = o
		case o.Offset != nil:
			c.offsets = append(c.offsets, o)
		}
	}
	return nil
}

// ResetOffsets forgets a stopped connector's offsets.
func (h *Herder) ResetOffsets(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.stopped(name)
	if err != nil {
		return err
	}
	c.offsets = nil
	return nil
}

// AddDLQ appends records to a connector's dead-letter queue; the connector must exist.
func (h *Herder) AddDLQ(name string, recs ...restapi.DLQRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[name].dlq = append(h.conns[name].dlq, recs...)
}

// Replays returns every successful DLQReplay call, in order.
func (h *Herder) Replays() []Replay {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Replay(nil), h.replays...)
}

// DLQList lists up to limit records of a connector's DLQ after the record id after; the page's
// body-less records keep their stack trace out, as the worker's listing does.
func (h *Herder) DLQList(_ context.Context, name, after string, limit int) (restapi.DLQPage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.DLQPage{}, err
	}
	recs := c.dlq
	if after != "" {
		i := slices.IndexFunc(recs, func(r restapi.DLQRecord) bool { return r.ID == after })
		recs = recs[i+1:]
	}
	page := restapi.DLQPage{Topic: "dlq-" + name, Records: []restapi.DLQRecord{}}
	for _, r := range recs[:min(limit, len(recs))] {
		r.Body, r.Stacktrace = nil, ""
		page.Records = append(page.Records, r)
	}
	if limit < len(recs) {
		page.Next = page.Records[len(page.Records)-1].ID
	}
	return page, nil
}

// DLQGet returns one DLQ record with its body and stack trace.
func (h *Herder) DLQGet(_ context.Context, name, id string) (restapi.DLQRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.DLQRecord{}, err
	}
	for _, r := range c.dlq {
		if r.ID == id {
			return r, nil
		}
	}
	return restapi.DLQRecord{}, fmt.Errorf("connector %s: DLQ record %s: %w", name, id, restapi.ErrNotFound)
}

// DLQReplay records the call and reports the records named (all when ids is empty) replayed.
func (h *Herder) DLQReplay(_ context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.DLQReplayResult{}, err
	}
	h.replays = append(h.replays, Replay{Connector: name, IDs: ids, Force: force})
	res := restapi.DLQReplayResult{Replayed: []string{}, Skipped: []string{}, Refused: []restapi.DLQRefusal{}}
	for _, r := range c.dlq {
		if len(ids) == 0 || slices.Contains(ids, r.ID) {
			res.Replayed = append(res.Replayed, r.ID)
		}
	}
	return res, nil
}

// PluginConfig describes a connector plugin's keys: connector.class (required) and max.tasks.
func (h *Herder) PluginConfig(_ context.Context, plugin string) ([]restapi.ConfigDefinition, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	if _, ok := h.connectorPlugin(plugin); !ok {
		return nil, fmt.Errorf("plugin %s: %w", plugin, restapi.ErrNotFound)
	}
	return definitions(), nil
}

func definitions() []restapi.ConfigDefinition {
	one := "1"
	return []restapi.ConfigDefinition{
		{Name: "connector.class", Type: "STRING", Required: true, Importance: "HIGH", Documentation: "the connector plugin", Dependents: []string{}},
		{Name: "max.tasks", Type: "INT", DefaultValue: &one, Importance: "HIGH", Documentation: "the most tasks to run", Dependents: []string{}},
	}
}

// ValidateConfig checks cfg as CreateConnector would and reports each defined key's value and
// the problems found for it.
func (h *Herder) ValidateConfig(_ context.Context, plugin string, cfg map[string]string) (restapi.ConfigInfos, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return restapi.ConfigInfos{}, h.fail
	}
	p, ok := h.connectorPlugin(plugin)
	if !ok {
		return restapi.ConfigInfos{}, fmt.Errorf("plugin %s: %w", plugin, restapi.ErrNotFound)
	}
	errs := map[string][]string{}
	if _, err := h.parse("validate", cfg, restapi.TargetStarted); err != nil {
		for _, pr := range cfgerr.Flatten(err) {
			errs[pr.Key] = append(errs[pr.Key], pr.Reason)
		}
	}
	out := restapi.ConfigInfos{Name: p.Class, Groups: []string{}}
	for _, d := range definitions() {
		v := restapi.ConfigValueInfo{Name: d.Name, RecommendedValues: []string{}, Errors: append([]string{}, errs[d.Name]...), Visible: true}
		if s, ok := cfg[d.Name]; ok {
			v.Value = &s
		}
		out.ErrorCount += len(v.Errors)
		out.Configs = append(out.Configs, restapi.ConfigInfo{Definition: d, Value: v})
	}
	return out, nil
}

func (h *Herder) connectorPlugin(name string) (restapi.PluginInfo, bool) {
	for _, p := range h.plugins {
		if (p.Type == string(restapi.TypeSource) || p.Type == string(restapi.TypeSink)) && (p.Class == name || slices.Contains(p.Aliases, name)) {
			return p, true
		}
	}
	return restapi.PluginInfo{}, false
}

// ConnectorTopics returns the topics a connector has used: those its config names
// (connect.topicname, connect.topicnames) since it was created or its topics were reset.
func (h *Herder) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	return append([]string{}, c.topics...), nil
}

// ResetConnectorTopics forgets the topics a connector has used.
func (h *Herder) ResetConnectorTopics(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	c.topics = nil
	return nil
}

// PatchConnectorConfig sets and removes keys of a connector's stored config and applies the
// result as PutConnectorConfig does.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, set map[string]string, remove []string) (restapi.ConnectorInfo, error) {
	h.mu.Lock()
	c, err := h.lookup(name)
	if err != nil {
		h.mu.Unlock()
		return restapi.ConnectorInfo{}, err
	}
	cfg := copyMap(c.cfg)
	h.mu.Unlock()
	for _, k := range remove {
		delete(cfg, k)
	}
	for k, v := range set {
		cfg[k] = v
	}
	info, _, err := h.PutConnectorConfig(ctx, name, cfg)
	return info, err
}
