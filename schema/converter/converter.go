package converter

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Converter turns Connect data into message bytes and back. One instance serves one role (key or value) of one
// connector; implementations here are safe for concurrent use after Configure.
type Converter interface {
	// Configure applies the converter's settings (the `<prefix>.` keys with the prefix stripped) before first use.
	// isKey says whether it converts record keys. An invalid setting gives a *cfgerr.Error wrapping ErrInvalidConfig;
	// unknown keys are ignored, as in Kafka Connect.
	Configure(cfg map[string]string, isKey bool) error
	// FromConnect serialises a value of schema s (nil = schemaless) for topic. A nil schema with a nil value gives
	// nil bytes (a tombstone). A value that does not match s gives a *schema.FieldError naming the field.
	FromConnect(topic string, s *schema.Schema, v any) ([]byte, error)
	// ToConnect deserialises bytes read from topic. nil or empty data is a tombstone: (nil schema, nil value) or,
	// for converters with a fixed schema, (that schema, nil). Bad input gives an error wrapping ErrMalformed or a
	// *schema.FieldError; it never panics.
	ToConnect(topic string, data []byte) (*schema.Schema, any, error)
}

// PropertyConverter is the optional ability to carry converter metadata (such as a schema
// registry's record id) in message properties next to the body. The worker uses it when a
// converter has it; plain FromConnect/ToConnect stay self-contained.
type PropertyConverter interface {
	Converter
	// FromConnectProps is FromConnect plus properties to set on the message.
	FromConnectProps(topic string, s *schema.Schema, v any) ([]byte, map[string]string, error)
	// ToConnectProps is ToConnect given the message's properties.
	ToConnectProps(topic string, data []byte, props map[string]string) (*schema.Schema, any, error)
}

// factories is the explicit name table: short names and the Java class names of Kafka Connect and RocketMQ
// Connect (a user's existing config keeps working).
var factories = map[string]func() Converter{
	"json":      func() Converter { return NewJSONConverter() },
	"string":    func() Converter { return NewStringConverter() },
	"bytearray": func() Converter { return NewByteArrayConverter() },
	"boolean":   func() Converter { return NewNumberConverter(schema.Boolean) },
	"short":     func() Converter { return NewNumberConverter(schema.Int16) },
	"integer":   func() Converter { return NewNumberConverter(schema.Int32) },
	"long":      func() Converter { return NewNumberConverter(schema.Int64) },
	"float":     func() Converter { return NewNumberConverter(schema.Float32) },
	"double":    func() Converter { return NewNumberConverter(schema.Float64) },
	"avro":      func() Converter { return NewAvroConverter() },
}

var aliases = map[string]string{
	"org.apache.kafka.connect.json.JsonConverter":                             "json",
	"org.apache.rocketmq.connect.runtime.converter.record.json.JsonConverter": "json",
	"org.apache.kafka.connect.storage.StringConverter":                        "string",
	"org.apache.rocketmq.connect.runtime.converter.record.StringConverter":    "string",
	"org.apache.kafka.connect.converters.ByteArrayConverter":                  "bytearray",
	"org.apache.rocketmq.connect.runtime.converter.record.ByteArrayConverter": "bytearray",
	"org.apache.kafka.connect.converters.BooleanConverter":                    "boolean",
	"org.apache.kafka.connect.converters.ShortConverter":                      "short",
	"org.apache.rocketmq.connect.runtime.converter.record.ShortConverter":     "short",
	"org.apache.kafka.connect.converters.IntegerConverter":                    "integer",
	"org.apache.rocketmq.connect.runtime.converter.record.IntegerConverter":   "integer",
	"org.apache.kafka.connect.converters.LongConverter":                       "long",
	"org.apache.rocketmq.connect.runtime.converter.record.LongConverter":      "long",
	"org.apache.kafka.connect.converters.FloatConverter":                      "float",
	"org.apache.rocketmq.connect.runtime.converter.record.FloatConverter":     "float",
	"org.apache.kafka.connect.converters.DoubleConverter":                     "double",
	"org.apache.rocketmq.connect.runtime.converter.record.DoubleConverter":    "double",
	"org.apache.rocketmq.connect.avro.AvroConverter":                          "avro",
	"org.apache.rocketmq.schema.avro.AvroConverter":                           "avro",
	"io.confluent.connect.avro.AvroConverter":                                 "avro",
}

// Canonical returns the short name for a converter name or alias (surrounding spaces ignored; short names match
// case-insensitively).
func Canonical(name string) (string, bool) {
	name = strings.TrimSpace(name)
	if _, ok := factories[name]; ok {
		return name, true
	}
	if short, ok := aliases[name]; ok {
		return short, true
	}
	if lower := strings.ToLower(name); factories[lower] != nil {
		return lower, true
	}
	return "", false
}

// New returns an unconfigured converter by short name or Java class name. An unknown name gives an error
// wrapping ErrUnknownConverter that names it.
func New(name string) (Converter, error) {
	short, ok := Canonical(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownConverter, name, strings.Join(ShortNames(), ", "))
	}
	return factories[short](), nil
}

// ShortNames lists the short converter names, sorted.
func ShortNames() []string { return slices.Sorted(maps.Keys(factories)) }

// Names lists every accepted name (short names and aliases), sorted.
func Names() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for n := range factories {
			if !yield(n) {
				return
			}
		}
		for n := range aliases {
			if !yield(n) {
				return
			}
		}
	})
}

// FromConfig builds and configures the converter a connector config names under prefix ("key.converter" or
// "value.converter"): the class is cfg[prefix], and every `<prefix>.<key>` is passed to Configure as `<key>`.
// Errors name the full dotted key.
func FromConfig(cfg map[string]string, prefix string, isKey bool) (Converter, error) {
	name, ok := cfg[prefix]
	if !ok || strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%s: %w", prefix, ErrMissingConverter)
	}
	c, err := New(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	sub := map[string]string{}
	for k, v := range cfg {
		if rest, found := strings.CutPrefix(k, prefix+"."); found {
			sub[rest] = v
		}
	}
	if err := c.Configure(sub, isKey); err != nil {
		var ce *cfgerr.Error
		if errors.As(err, &ce) {
			full := *ce
			full.Key = prefix + "." + ce.Key
			return nil, &full
		}
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	return c, nil
}
