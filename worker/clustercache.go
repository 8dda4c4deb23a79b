package worker

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
)

func (d *Distributed) cachePath() string { return filepath.Join(d.cfg.StoreDir, "cluster-cache.json") }

// clusterCache is the fold of the store topics at known offsets, kept for a fast restart.
type clusterCache struct {
	Topics       [3]string `json:"topics"`
	ConfigNext   int64     `json:"config_next"`
	StatusNext   int64     `json:"status_next"`
	PositionNext int64     `json:"position_next"`
	// Last is the last record applied of each topic, read again at load: a topic that was
	// deleted and recreated since holds other records there, and the cache is not used.
	Last      [3]appliedMark `json:"last"`
	Config    *configState   `json:"config"`
	Status    *statusState   `json:"status"`
	Positions *positionState `json:"positions"`
}

// loadCache restores the fold from the cache when it fits the topics as they are now (the
// last record it covers of each is still there: recordAt reads topic i at an offset) and
// returns the offsets to read on from (the topics' first offsets otherwise).
func (d *Distributed) loadCache(minOff, maxOff [3]int64, recordAt func(i int, off int64) ([]byte, error)) [3]int64 {
	var from [3]int64
	var file json.RawMessage
	err := filestore.Read(d.cachePath(), &file)
	if errors.Is(err, os.ErrNotExist) {
		return from
	}
	var c clusterCache
	if err == nil {
		err = decodeExact(file, &c) // positions keep integers past 2^53 exact
	}
	if err != nil {
		d.log.Warn("cluster cache unreadable; replaying the store topics", "err", err)
		return from
	}
	if c.Topics != [3]string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic} || c.Config == nil || c.Status == nil || c.Positions == nil {
		return from
	}
	next := [3]int64{c.ConfigNext, c.StatusNext, c.PositionNext}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if next[i] > maxOff[i] {
			d.log.Warn("cluster cache is ahead of the store topics (recreated?); replaying them", "topic", l.topic,
				"cached", next[i], "max_offset", maxOff[i])
			return from
		}
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if next[i] == 0 || c.Last[i].Offset < minOff[i] && c.Last[i].Digest != "" {
			continue // nothing read yet, or the record is gone by retention (the log rebases then)
		}
		body, err := recordAt(i, c.Last[i].Offset)
		if err != nil || body == nil || c.Last[i].Digest == "" || markOf(c.Last[i].Offset, body) != c.Last[i] {
			d.log.Warn("cluster cache does not match the store topic (recreated?); replaying the store topics", "topic", l.topic,
				"offset", c.Last[i].Offset, "err", err)
			return from
		}
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		l.last = c.Last[i]
	}
	c.Positions.normalize()
	if c.Config.Connectors == nil {
		c.Config.Connectors = map[string]*clusterConnector{}
	}
	d.mu.Lock()
	d.config, d.status, d.posState = c.Config, c.Status, c.Positions
	d.mu.Unlock()
	d.log.Info("cluster cache loaded", "config", next[0], "status", next[1], "positions", next[2])
	return next
}

// clusterCacheFile is a clusterCache as saveCache writes it: each fold encoded with its
// topic's offsets.
type clusterCacheFile struct {
	Topics       [3]string       `json:"topics"`
	ConfigNext   int64           `json:"config_next"`
	StatusNext   int64           `json:"status_next"`
	PositionNext int64           `json:"position_next"`
	Last         [3]appliedMark  `json:"last"`
	Config       json.RawMessage `json:"config"`
	Status       json.RawMessage `json:"status"`
	Positions    json.RawMessage `json:"positions"`
}

// saveCache writes the fold with the offsets it covers. Each topic's offsets and fold are
// read together under its log's lock, which the log holds while it folds (storeLog.mu, then
// Distributed.mu): read apart, the fold could be ahead of its offsets, and the next start
// would fold the records between again, where a config record can fold differently the
// second time (a create that lost to a connector deleted since now succeeds) and that worker
// alone would hold the result.
func (d *Distributed) saveCache() {
	c := clusterCacheFile{Topics: [3]string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic}}
	next := [3]*int64{&c.ConfigNext, &c.StatusNext, &c.PositionNext}
	folds := [3]*json.RawMessage{&c.Config, &c.Status, &c.Positions}
	var err error
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		l.mu.Lock()
		*next[i], c.Last[i] = l.next, l.last
		d.mu.Lock()
		if i == 0 {
			d.dirty = false // a record folded from here on makes it dirty again
		}
		fold := [3]any{d.config, d.status, d.posState}[i]
		*folds[i], err = json.Marshal(fold)
		d.mu.Unlock()
		l.mu.Unlock()
		if err != nil {
			break
		}
	}
	if err == nil {
		err = filestore.Write(d.cachePath(), c)
	}
	if err != nil {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
		d.log.Warn("cluster cache not written", "err", err)
	}
}

func (d *Distributed) cacheLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.mu.Lock()
			dirty := d.dirty
			d.mu.Unlock()
			if dirty {
				d.saveCache()
			}
		}
	}
}
