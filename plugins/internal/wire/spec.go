package wire

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
)

// EncodeSpec describes a config spec. Validators travel as their descriptions: they run in
// the plugin, whose Validate parses the config against the full spec first.
func EncodeSpec(s *plugins.ConfigSpec) []*pb.ConfigField {
	var out []*pb.ConfigField
	for _, f := range s.Fields() {
		m := &pb.ConfigField{Name: f.Name, Type: string(f.Type), Required: f.Required, Doc: f.Doc, Secret: f.Secret,
			Aliases: f.Aliases, Path: f.Path}
		// As text the worker's Parse reads back to the same value (a DURATION in Go syntax,
		// so that no sub-millisecond part is lost), and shows as a built-in connector's.
		if d, ok := s.Default(f.Name); ok {
			m.HasDefault, m.Default = true, plugins.FormatValue(d)
		}
		for _, v := range f.Validators {
			if v != nil {
				m.Validators = append(m.Validators, v.String())
			}
		}
		out = append(out, m)
	}
	return out
}

// DecodeSpec builds the worker's copy of a plugin's spec: same keys, types, defaults,
// aliases and flags; each validator is its description only (it accepts every value, as the
// plugin checks values in Validate).
func DecodeSpec(fields []*pb.ConfigField) (*plugins.ConfigSpec, error) {
	out := make([]plugins.Field, 0, len(fields))
	for _, m := range fields {
		f := plugins.Field{Name: m.Name, Type: plugins.Type(m.Type), Required: m.Required, Doc: m.Doc, Secret: m.Secret,
			Aliases: m.Aliases, Path: m.Path}
		if m.HasDefault {
			f.Default = m.Default
		}
		for _, desc := range m.Validators {
			f.Validators = append(f.Validators, plugins.Custom(desc, func(any) error { return nil }))
		}
		out = append(out, f)
	}
	s, err := plugins.NewConfigSpec(out...)
	if err != nil {
		return nil, fmt.Errorf("%w: config spec: %v", ErrBadMessage, err)
	}
	return s, nil
}
