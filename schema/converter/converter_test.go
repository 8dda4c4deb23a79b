package converter

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

func TestNew(t *testing.T) {
	cases := map[string]any{
		"json": &JSONConverter{}, " json ": &JSONConverter{}, "JSON": &JSONConverter{},
		"org.apache.kafka.connect.json.JsonConverter":                             &JSONConverter{},
		"org.apache.rocketmq.connect.runtime.converter.record.json.JsonConverter": &JSONConverter{},
		"string": &StringConverter{}, "org.apache.kafka.connect.storage.StringConverter": &StringConverter{},
		"org.apache.rocketmq.connect.runtime.converter.record.StringConverter": &StringConverter{},
		"bytearray": &ByteArrayConverter{}, "org.apache.kafka.connect.converters.ByteArrayConverter": &ByteArrayConverter{},
		"short": &NumberConverter{}, "integer": &NumberConverter{}, "long": &NumberConverter{}, "float": &NumberConverter{},
		"double": &NumberConverter{}, "boolean": &NumberConverter{},
		"org.apache.kafka.connect.converters.DoubleConverter":                &NumberConverter{},
		"org.apache.rocketmq.connect.runtime.converter.record.LongConverter": &NumberConverter{},
	}
	for name, want := range cases {
		c, err := New(name)
		require.NoError(t, err, name)
		require.IsType(t, want, c, name)
	}
	// Every alias resolves to a short name that has a factory.
	for _, n := range Names() {
		_, err := New(n)
		require.NoError(t, err, n)
	}
	require.Equal(t, []string{"avro", "boolean", "bytearray", "double", "float", "integer", "json", "long", "short", "string"}, ShortNames())

	_, err := New("org.apache.kafka.connect.avro.AvroConverter")
	require.ErrorIs(t, err, ErrUnknownConverter)
	require.Contains(t, err.Error(), `"org.apache.kafka.connect.avro.AvroConverter"`)

	short, ok := Canonical("org.apache.kafka.connect.converters.ShortConverter")
	require.True(t, ok)
	require.Equal(t, "short", short)
	_, ok = Canonical("nope")
	require.False(t, ok)
}

func TestFromConfig(t *testing.T) {
	cfg := map[string]string{
		"connector.class":                 "file-source",
		"key.converter":                   "string",
		"key.converter.encoding":          "UTF-16",
		"value.converter":                 "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable":  "false",
		"value.converter.decimal.format":  "NUMERIC",
		"value.converterX.schemas.enable": "true",
		"value.converter.schemas.enableX": "junk is ignored",
		"header.converter.schemas.enable": "true",
	}
	v, err := FromConfig(cfg, "value.converter", false)
	require.NoError(t, err)
	j := v.(*JSONConverter)
	require.False(t, j.schemasEnable)
	require.True(t, j.decimalNumeric)

	k, err := FromConfig(cfg, "key.converter", true)
	require.NoError(t, err)
	require.Equal(t, "UTF-16", k.(*StringConverter).enc)

	_, err = FromConfig(map[string]string{}, "value.converter", false)
	require.ErrorIs(t, err, ErrMissingConverter)
	require.Contains(t, err.Error(), "value.converter")

	_, err = FromConfig(map[string]string{"value.converter": "nope"}, "value.converter", false)
	require.ErrorIs(t, err, ErrUnknownConverter)
	require.Contains(t, err.Error(), "value.converter")

	_, err = FromConfig(map[string]string{"value.converter": "avro"}, "value.converter", false)
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "value.converter.schema.registry.url")

	_, err = FromConfig(map[string]string{"value.converter": "json", "value.converter.schemas.enable": "maybe"}, "value.converter", false)
	require.ErrorIs(t, err, ErrInvalidConfig)
	var ce *cfgerr.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "value.converter.schemas.enable", ce.Key)
	require.Equal(t, `value.converter.schemas.enable="maybe": not a boolean (true|false): invalid converter config`, err.Error())

	_, err = FromConfig(map[string]string{"key.converter": "string", "key.converter.converter.encoding": "EBCDIC"}, "key.converter", true)
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "key.converter.converter.encoding")
}
