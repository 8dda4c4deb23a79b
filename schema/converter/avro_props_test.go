package converter

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/registry/registrytest"
)

func TestAvroRecordIDLocation(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	s, v := bench20()

	// Default: the id goes in a property and the body is the bare datum.
	w := avroConverter(t, srv, false, nil)
	prefixed, err := w.FromConnect("orders", s, v)
	require.NoError(t, err)
	body, props, err := w.FromConnectProps("orders", s, v)
	require.NoError(t, err)
	require.Equal(t, prefixed[RecordIDSize:], body)
	require.Equal(t, strconv.FormatUint(binary.BigEndian.Uint64(prefixed), 10), props[RecordIDProperty(false)])

	r := avroConverter(t, srv, false, nil)
	gotS, gotV, err := r.ToConnectProps("orders", body, props)
	require.NoError(t, err)
	require.True(t, schema.Equal(v, gotV))
	require.Equal(t, s.Name, gotS.Name)
	// A message without the property is read as prefixed (Java converters' messages).
	_, gotV, err = r.ToConnectProps("orders", prefixed, map[string]string{})
	require.NoError(t, err)
	require.True(t, schema.Equal(v, gotV))
	_, _, err = r.ToConnectProps("orders", body, map[string]string{RecordIDProperty(false): "x"})
	require.ErrorIs(t, err, ErrMalformed)

	// schema.id.location=prefix: the Java-compatible body, no property.
	jw := avroConverter(t, srv, false, map[string]string{"schema.id.location": "prefix"})
	jbody, jprops, err := jw.FromConnectProps("orders", s, v)
	require.NoError(t, err)
	require.Nil(t, jprops)
	require.Equal(t, prefixed, jbody)

	require.Error(t, NewAvroConverter().Configure(map[string]string{"schema.registry.url": srv.URL, "schema.id.location": "header"}, false))
	require.Equal(t, "connect.key.schema.id", RecordIDProperty(true))
}
