package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
)

// PositionStore keeps source positions: per connector, source partition → offset.
// Put returns once the positions are durable.
type PositionStore interface {
	Get(connector string, partition map[string]any) (map[string]any, error)
	All(connector string) ([]plugins.PartitionPosition, error)
	Put(connector string, positions []plugins.PartitionPosition) error
	Delete(connector string) error
}

// FilePositionStore is the standalone PositionStore: one JSON file, rewritten atomically
// on every Put (positions are small and commits are periodic).
type FilePositionStore struct {
	path string
	mu   sync.Mutex
	data map[string]map[string]storedPosition
}

type storedPosition struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// OpenFilePositionStore loads (or creates) the store at path.
func OpenFilePositionStore(path string) (*FilePositionStore, error) {
	s := &FilePositionStore{path: path, data: map[string]map[string]storedPosition{}}
	var file json.RawMessage
	err := filestore.Read(path, &file)
	var raw map[string]map[string]storedPosition
	if err == nil {
		err = decodeExact(file, &raw)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("position store: %w", err)
	default:
		for c, ps := range raw {
			m := map[string]storedPosition{}
			for k, p := range ps {
				m[k] = storedPosition{Partition: normalizeMap(p.Partition), Offset: normalizeMap(p.Offset)}
			}
			s.data[c] = m
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return s, nil
}

// partitionKey is the canonical JSON of a partition map (encoding/json sorts map keys).
func partitionKey(p map[string]any) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("source partition is not JSON data: %w", err)
	}
	return string(b), nil
}

// Get returns the offset stored for a partition, or nil.
func (s *FilePositionStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	k, err := partitionKey(partition)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.data[connector][k]; ok {
		return copyJSONMap(p.Offset), nil
	}
	return nil, nil
}

// All returns every stored position of a connector, sorted by partition.
func (s *FilePositionStore) All(connector string) ([]plugins.PartitionPosition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.data[connector]))
	for k := range s.data[connector] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]plugins.PartitionPosition, 0, len(keys))
	for _, k := range keys {
		p := s.data[connector][k]
		out = append(out, plugins.PartitionPosition{Partition: copyJSONMap(p.Partition), Offset: copyJSONMap(p.Offset)})
	}
	return out, nil
}

// Put stores positions durably. A nil offset removes the partition's position. When it fails
// (a partition or offset that is no JSON data, a file that cannot be written) the store keeps
// the positions it had: Get and All never return a position whose write failed.
func (s *FilePositionStore) Put(connector string, positions []plugins.PartitionPosition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]storedPosition, len(s.data[connector])+len(positions))
	for k, p := range s.data[connector] {
		m[k] = p
	}
	for _, p := range positions {
		k, err := partitionKey(p.Partition)
		if err != nil {
			return err
		}
		if p.Offset == nil {
			delete(m, k)
			continue
		}
		if _, err := json.Marshal(p.Offset); err != nil {
			return fmt.Errorf("source offset is not JSON data: %w", err)
		}
		m[k] = storedPosition{Partition: copyJSONMap(p.Partition), Offset: copyJSONMap(p.Offset)}
	}
	return s.commit(connector, m)
}

// Delete removes every position of a connector; when the file cannot be written they stay.
func (s *FilePositionStore) Delete(connector string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data[connector]; !ok {
		return nil
	}
	return s.commit(connector, nil)
}

// commit writes the store with connector's positions replaced by m (removed when m is nil) and
// makes that the store's state once the file holds it. The stored positions are never changed
// in place (they are copied in and out), so the new state shares them with the old one.
// s.mu is held.
func (s *FilePositionStore) commit(connector string, m map[string]storedPosition) error {
	next := make(map[string]map[string]storedPosition, len(s.data)+1)
	for c, ps := range s.data {
		next[c] = ps
	}
	if m == nil {
		delete(next, connector)
	} else {
		next[connector] = m
	}
	if err := filestore.Write(s.path, next); err != nil {
		return err
	}
	s.data = next
	return nil
}

// copyJSONMap deep-copies a JSON-like map by round-tripping it, normalising numbers.
func copyJSONMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return m
	}
	return normalizeMap(out)
}

// decodeExact decodes JSON data into v with its numbers as json.Number (normalize turns them
// into int64 or float64): decoded as float64, an integer past 2^53 in a stored position (a
// snowflake id a jdbc-source resumes after) came back rounded, and the task skipped or
// repeated the rows between.
func decodeExact(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// normalizeMap turns json.Number into int64 when integral, else float64, recursively.
func normalizeMap(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = normalize(v)
	}
	return m
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
			return int64(x)
		}
		return x
	case map[string]any:
		return normalizeMap(x)
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	default:
		return v
	}
}

// errNumberRange: a stored position holds a number no float64 holds (1e400). Folded as
// +Inf it would make the fold unencodable: the worker's cache, its position snapshots and
// the connector's offsets would fail on every try.
var errNumberRange = errors.New("number out of range")

// finiteNumbers returns errNumberRange, naming the number, when v (decoded with UseNumber)
// holds one past float64's range, or a float64 infinity or NaN.
func finiteNumbers(v any) error {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return nil
		}
		if f, err := x.Float64(); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%w: %s", errNumberRange, x)
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("%w: %v", errNumberRange, x)
		}
	case map[string]any:
		for _, e := range x {
			if err := finiteNumbers(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := finiteNumbers(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// positionReader gives a source task read access to its connector's positions.
type positionReader struct {
	store     PositionStore
	connector string
}

func (r positionReader) Position(_ context.Context, partition map[string]any) (map[string]any, error) {
	return r.store.Get(r.connector, partition)
}

func (r positionReader) Positions(_ context.Context, partitions []map[string]any) ([]plugins.PartitionPosition, error) {
	out := make([]plugins.PartitionPosition, 0, len(partitions))
	for _, p := range partitions {
		off, err := r.store.Get(r.connector, p)
		if err != nil {
			return nil, err
		}
		if off != nil {
			out = append(out, plugins.PartitionPosition{Partition: p, Offset: off})
		}
	}
	return out, nil
}
