package conf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/magiconair/properties"
)

// ConnectorFile is a connector config read from a file given on the command line.
type ConnectorFile struct {
	Name   string
	Config map[string]string
}

// LoadConnector reads a connector config from a .json file (either {"name":..,"config":{..}}
// as the REST API takes it, or a flat object) or a .properties/.conf file. The name comes
// from the "name" key; values that are JSON numbers or booleans become strings.
func LoadConnector(path string) (*ConnectorFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connector config: %w", err)
	}
	cfg := map[string]string{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("connector config %s: not a JSON object: %w", path, err)
		}
		name, _ := raw["name"].(string)
		if inner, ok := raw["config"].(map[string]any); ok {
			raw = inner
		}
		for k, v := range raw {
			s, err := flatValue(v)
			if err != nil {
				return nil, fmt.Errorf("connector config %s: key %s: %w", path, k, err)
			}
			cfg[k] = s
		}
		if name != "" {
			cfg["name"] = name
		}
	case ".properties", ".conf", ".cfg":
		p, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadBytes(data)
		if err != nil {
			return nil, fmt.Errorf("connector config %s: %w", path, err)
		}
		for _, k := range p.Keys() {
			cfg[k], _ = p.Get(k)
		}
	default:
		return nil, fmt.Errorf("connector config %s: unsupported extension (use .json, .properties or .conf)", path)
	}
	name := strings.TrimSpace(cfg["name"])
	if name == "" {
		return nil, fmt.Errorf("connector config %s: name: is required", path)
	}
	return &ConnectorFile{Name: name, Config: cfg}, nil
}

func flatValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("null is not a config value")
	default:
		return "", fmt.Errorf("nested objects and arrays are not config values")
	}
}
