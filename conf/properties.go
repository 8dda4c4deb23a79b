package conf

import (
	"fmt"
	"sort"

	"github.com/magiconair/properties"
	"github.com/spf13/viper"
)

// propertiesCodec reads Java .properties/.conf files for viper (which no longer bundles a
// properties codec). Keys are kept flat: "a.b=c" is the key "a.b", not a nested map, since
// RocketMQ Connect keys are flat names.
type propertiesCodec struct{}

func (propertiesCodec) Decode(b []byte, v map[string]any) error {
	p, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadBytes(b)
	if err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	for _, k := range p.Keys() {
		v[k], _ = p.Get(k)
	}
	return nil
}

func (propertiesCodec) Encode(v map[string]any) ([]byte, error) {
	p := properties.NewProperties()
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, _, err := p.Set(k, fmt.Sprint(v[k])); err != nil {
			return nil, err
		}
	}
	return []byte(p.String()), nil
}

// codecs is viper's default registry plus properties.
func codecs() viper.CodecRegistry {
	r := viper.NewCodecRegistry()
	_ = r.RegisterCodec("properties", propertiesCodec{})
	return r
}
