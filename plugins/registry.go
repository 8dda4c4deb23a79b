package plugins

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Factory builds a fresh, unstarted connector. It must not have side effects
// beyond allocating the value.
type Factory func() Connector

// PluginInfo describes one registered connector plugin.
type PluginInfo struct {
	Kind    Kind
	Name    string
	Aliases []string
	// Version and Location are set for out-of-process plugins: the plugin's own version and
	// the path of its binary. Built-in connectors leave them empty.
	Version  string
	Location string
}

// Registration is one connector to add with Swap.
type Registration struct {
	Info    PluginInfo
	Factory Factory
}

type entry struct {
	info    PluginInfo
	factory Factory
}

// Registry maps connector names and aliases to factories. It is built
// explicitly (there is no global registry and nothing registers itself in
// init); it is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	byName  map[string]*entry // name and aliases → entry
	entries []*entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*entry{}}
}

// Register adds a connector under a short name (e.g. "file-source") and
// aliases (e.g. "org.apache.rocketmq.connect.file.FileSourceConnector").
// Names are matched exactly. A name or alias already taken, an empty name, a
// nil factory or an unknown kind is an error and leaves the registry unchanged.
func (r *Registry) Register(kind Kind, name string, aliases []string, f Factory) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.register(PluginInfo{Kind: kind, Name: name, Aliases: aliases}, f)
}

// register adds info; r.mu is held.
func (r *Registry) register(info PluginInfo, f Factory) error {
	kind, name, aliases := info.Kind, info.Name, info.Aliases
	if !kind.Valid() {
		return fmt.Errorf("register %q: unknown kind %q", name, kind)
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("register: empty plugin name")
	}
	if f == nil {
		return fmt.Errorf("register %q: nil factory", name)
	}
	keys := append([]string{name}, aliases...)
	seen := map[string]bool{}
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("register %q: empty alias", name)
		}
		if prev, ok := r.byName[k]; ok {
			return fmt.Errorf("register %q: %w: %q is already used by %q", name, ErrDuplicatePlugin, k, prev.info.Name)
		}
		if seen[k] {
			return fmt.Errorf("register %q: %w: %q given twice", name, ErrDuplicatePlugin, k)
		}
		seen[k] = true
	}
	info.Aliases = append([]string(nil), aliases...)
	e := &entry{info: info, factory: f}
	for _, k := range keys {
		r.byName[k] = e
	}
	r.entries = append(r.entries, e)
	return nil
}

// Swap removes the plugins named in remove (by name; unknown names are ignored) and adds
// add, as one change: lookups see the registry before or after it, never between. Any
// problem Register would report for an addition (checked against the registry without the
// removed plugins) fails the whole swap and leaves the registry unchanged.
func (r *Registry) Swap(remove []string, add []Registration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := &Registry{byName: map[string]*entry{}}
	drop := map[string]bool{}
	for _, n := range remove {
		drop[n] = true
	}
	for _, e := range r.entries {
		if drop[e.info.Name] {
			continue
		}
		next.entries = append(next.entries, e)
		for _, k := range append([]string{e.info.Name}, e.info.Aliases...) {
			next.byName[k] = e
		}
	}
	for _, a := range add {
		if err := next.register(a.Info, a.Factory); err != nil {
			return err
		}
	}
	r.byName, r.entries = next.byName, next.entries
	return nil
}

// Lookup finds a plugin by short name or alias.
func (r *Registry) Lookup(name string) (PluginInfo, error) {
	e, err := r.find(name)
	if err != nil {
		return PluginInfo{}, err
	}
	return copyInfo(e.info), nil
}

func (r *Registry) find(name string) (*entry, error) {
	r.mu.RLock()
	e, ok := r.byName[strings.TrimSpace(name)]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPlugin, name)
	}
	return e, nil
}

// New builds a connector by name or alias. It checks that the connector
// implements the interface of its registered kind (SourceConnector or
// SinkConnector) and wraps ErrKindMismatch otherwise.
func (r *Registry) New(name string) (Connector, error) {
	e, err := r.find(name)
	if err != nil {
		return nil, err
	}
	c := e.factory()
	if c == nil {
		return nil, fmt.Errorf("new connector %q: factory returned nil", e.info.Name)
	}
	switch e.info.Kind {
	case KindSource:
		if _, ok := c.(SourceConnector); !ok {
			return nil, fmt.Errorf("new connector %q: %w: %T is not a SourceConnector", e.info.Name, ErrKindMismatch, c)
		}
	case KindSink:
		if _, ok := c.(SinkConnector); !ok {
			return nil, fmt.Errorf("new connector %q: %w: %T is not a SinkConnector", e.info.Name, ErrKindMismatch, c)
		}
	}
	return c, nil
}

// NewSource builds a source connector by name or alias.
func (r *Registry) NewSource(name string) (SourceConnector, error) {
	c, err := r.New(name)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(SourceConnector)
	if !ok {
		return nil, fmt.Errorf("new source connector %q: %w: it is a sink", name, ErrKindMismatch)
	}
	return sc, nil
}

// NewSink builds a sink connector by name or alias.
func (r *Registry) NewSink(name string) (SinkConnector, error) {
	c, err := r.New(name)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(SinkConnector)
	if !ok {
		return nil, fmt.Errorf("new sink connector %q: %w: it is a source", name, ErrKindMismatch)
	}
	return sc, nil
}

// List returns every registered plugin sorted by name.
func (r *Registry) List() []PluginInfo {
	r.mu.RLock()
	out := make([]PluginInfo, len(r.entries))
	for i, e := range r.entries {
		out[i] = copyInfo(e.info)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func copyInfo(i PluginInfo) PluginInfo {
	i.Aliases = append([]string(nil), i.Aliases...)
	return i
}
