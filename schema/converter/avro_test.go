package converter

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/avro"
	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/schema/registry/registrytest"
)

func avroConverter(t testing.TB, srv *registrytest.Server, isKey bool, extra map[string]string) *AvroConverter {
	t.Helper()
	cfg := map[string]string{"schema.registry.url": srv.URL, "schema.registry.cluster": "Connect"}
	for k, v := range extra {
		cfg[k] = v
	}
	c := NewAvroConverter()
	require.NoError(t, c.Configure(cfg, isKey))
	return c
}

func registryClient(t *testing.T, srv *registrytest.Server) *registry.Client {
	c, err := registry.New(registry.Config{URL: srv.URL, Cluster: "Connect"})
	require.NoError(t, err)
	return c
}

func TestAvroConverterConfig(t *testing.T) {
	for _, name := range []string{"avro", "org.apache.rocketmq.connect.avro.AvroConverter", "io.confluent.connect.avro.AvroConverter",
		"org.apache.rocketmq.schema.avro.AvroConverter"} {
		c, err := New(name)
		require.NoError(t, err)
		require.IsType(t, &AvroConverter{}, c)
	}
	err := NewAvroConverter().Configure(map[string]string{}, false)
	var ce *cfgerr.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "schema.registry.url", ce.Key)

	bad := map[string]string{
		"auto.register.schemas": "maybe", "use.latest.version": "2", "schema.registry.timeout.ms": "0",
		"latest.cache.ttl.sec": "-2", "subject.name.strategy": "record", "schema.compatibility": "SIDEWAYS",
		"schemas.cache.size": "x", "schema.registry.total.timeout.ms": "0",
	}
	for k, v := range bad {
		err := NewAvroConverter().Configure(map[string]string{"schema.registry.url": "http://localhost:1", k: v}, false)
		require.True(t, errors.As(err, &ce), k)
		require.Equal(t, k, ce.Key)
	}
	err = NewAvroConverter().Configure(map[string]string{"schema.registry.url": "localhost:8080"}, false)
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "schema.registry.url")
}

func TestAvroConverterRoundTrip(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	w := avroConverter(t, srv, false, nil)
	s, v := bench20()
	data, err := w.FromConnect("orders", s, v)
	require.NoError(t, err)

	// The prefix is the record id of the registered version 1 of subject orders-value.
	latest, err := registryClient(t, srv).Latest(context.Background(), "orders-value")
	require.NoError(t, err)
	require.EqualValues(t, 1, latest.Version)
	require.Equal(t, uint64(latest.RecordID), binary.BigEndian.Uint64(data))
	a, err := avro.Parse(latest.IDL)
	require.NoError(t, err)
	require.Equal(t, "com.example.Row", a.FullName())

	// Writing again registers nothing new, even with an equal schema built anew.
	before := srv.Hits("")
	_, err = w.FromConnect("orders", s, v)
	require.NoError(t, err)
	s2, v2 := bench20()
	again, err := w.FromConnect("orders", s2, v2)
	require.NoError(t, err)
	require.Equal(t, data, again)
	require.Equal(t, before, srv.Hits(""))

	r := avroConverter(t, srv, false, nil)
	gotSchema, got, err := r.ToConnect("orders", data)
	require.NoError(t, err)
	require.True(t, gotSchema.Equal(s), "got %+v", gotSchema)
	require.True(t, v.Equal(got.(*schema.Struct)), "got %v", got)

	// Tombstones both ways.
	out, err := w.FromConnect("orders", nil, nil)
	require.NoError(t, err)
	require.Nil(t, out)
	gs, gv, err := r.ToConnect("orders", nil)
	require.NoError(t, err)
	require.Nil(t, gs)
	require.Nil(t, gv)

	// Keys go to <topic>-key; primitives work too.
	k := avroConverter(t, srv, true, nil)
	kdata, err := k.FromConnect("orders", schema.StringSchema, "order-1")
	require.NoError(t, err)
	_, err = registryClient(t, srv).Latest(context.Background(), "orders-key")
	require.NoError(t, err)
	ks, kv, err := avroConverter(t, srv, true, nil).ToConnect("orders", kdata)
	require.NoError(t, err)
	require.Equal(t, schema.String, ks.Type)
	require.Equal(t, "order-1", kv)

	// A schemaless value cannot be written.
	_, err = w.FromConnect("orders", nil, map[string]any{"a": 1})
	require.ErrorIs(t, err, ErrUnsupportedType)
}

func TestAvroConverterSubjectStrategyTopic(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	w := avroConverter(t, srv, false, map[string]string{"subject.name.strategy": "topic"})
	data, err := w.FromConnect("orders", schema.Int64Schema, int64(5))
	require.NoError(t, err)
	rec, err := registryClient(t, srv).Latest(context.Background(), "orders")
	require.NoError(t, err)
	require.Equal(t, "orders-value", rec.SchemaName)
	_, v, err := avroConverter(t, srv, false, map[string]string{"subject.name.strategy": "topic"}).ToConnect("orders", data)
	require.NoError(t, err)
	require.Equal(t, int64(5), v)
}

// TestAvroConverterEvolution: a source writes v1, then v2 with an added optional field; a sink with
// use.latest.version reads both as v2 (the v1 record's new field null); a sink without it reads each with its
// writer's schema.
func TestAvroConverterEvolution(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	v1 := schema.StructBuilder().Name("com.example.User").
		Field("id", schema.Int64Schema).Field("name", schema.StringSchema).MustBuild()
	v2 := schema.StructBuilder().Name("com.example.User").
		Field("id", schema.Int64Schema).Field("name", schema.StringSchema).
		Field("email", schema.OptionalStringSchema).MustBuild()
	w := avroConverter(t, srv, false, nil)
	d1, err := w.FromConnect("users", v1, schema.NewStruct(v1).MustPut("id", int64(1)).MustPut("name", "Ada"))
	require.NoError(t, err)
	d2, err := w.FromConnect("users", v2, schema.NewStruct(v2).MustPut("id", int64(2)).MustPut("name", "Bob").MustPut("email", "b@x"))
	require.NoError(t, err)
	require.NotEqual(t, d1[:8], d2[:8])

	latest := avroConverter(t, srv, false, map[string]string{"use.latest.version": "true"})
	s1, got1, err := latest.ToConnect("users", d1)
	require.NoError(t, err)
	require.True(t, s1.Equal(v2), "reader schema %+v", s1)
	require.True(t, schema.NewStruct(v2).MustPut("id", int64(1)).MustPut("name", "Ada").Equal(got1.(*schema.Struct)))
	_, got2, err := latest.ToConnect("users", d2)
	require.NoError(t, err)
	email, _ := got2.(*schema.Struct).Get("email")
	require.Equal(t, "b@x", email)

	own := avroConverter(t, srv, false, nil)
	s1, _, err = own.ToConnect("users", d1)
	require.NoError(t, err)
	require.True(t, s1.Equal(v1))

	// A writer that is not allowed to register writes with the latest schema, matching fields by name.
	fixed := avroConverter(t, srv, false, map[string]string{"auto.register.schemas": "false", "use.latest.version": "true"})
	d3, err := fixed.FromConnect("users", v1, schema.NewStruct(v1).MustPut("id", int64(3)).MustPut("name", "Cy"))
	require.NoError(t, err)
	require.Equal(t, d2[:8], d3[:8])
	s3, got3, err := own.ToConnect("users", d3)
	require.NoError(t, err)
	require.True(t, s3.Equal(v2))
	name, _ := got3.(*schema.Struct).Get("name")
	require.Equal(t, "Cy", name)
}

func TestAvroConverterErrors(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	v1 := schema.StructBuilder().Name("com.example.User").Field("id", schema.Int64Schema).MustBuild()
	w := avroConverter(t, srv, false, nil)
	d1, err := w.FromConnect("users", v1, schema.NewStruct(v1).MustPut("id", int64(1)))
	require.NoError(t, err)

	// An incompatible new schema (a required field added without a default) is refused by the registry; the
	// error names the subject and the rule.
	bad := schema.StructBuilder().Name("com.example.User").Field("id", schema.Int64Schema).Field("age", schema.Int32Schema).MustBuild()
	_, err = w.FromConnect("users", bad, schema.NewStruct(bad).MustPut("id", int64(1)).MustPut("age", int32(3)))
	require.ErrorIs(t, err, registry.ErrConflict)
	require.Contains(t, err.Error(), `subject "users-value"`)
	require.Contains(t, err.Error(), "User.age: field is missing from the writer and has no default")

	// Not registered and not allowed to register.
	noReg := avroConverter(t, srv, false, map[string]string{"auto.register.schemas": "false"})
	_, err = noReg.FromConnect("users", bad, schema.NewStruct(bad).MustPut("id", int64(1)).MustPut("age", int32(3)))
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.Contains(t, err.Error(), "auto.register.schemas=false")
	_, err = noReg.FromConnect("users", v1, schema.NewStruct(v1).MustPut("id", int64(1)))
	require.NoError(t, err)

	// Unknown record id.
	unknown := append([]byte{0, 0, 0, 0, 0, 0, 0x03, 0xe7}, d1[8:]...)
	r := avroConverter(t, srv, false, nil)
	_, _, err = r.ToConnect("users", unknown)
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.Contains(t, err.Error(), `subject "users-value": writer schema for record id 999`)

	// Too short, and a body that is not the datum.
	_, _, err = r.ToConnect("users", []byte{1, 2, 3})
	require.ErrorIs(t, err, ErrMalformed)
	_, _, err = r.ToConnect("users", append(append([]byte{}, d1...), 0))
	require.ErrorIs(t, err, ErrMalformed)

	// The latest schema cannot read the writer's (changed with compatibility NONE): the reader says why.
	loose := avroConverter(t, srv, false, map[string]string{"schema.compatibility": "NONE"})
	s1 := schema.StructBuilder().Name("com.example.Item").Field("qty", schema.Int64Schema).MustBuild()
	s2 := schema.StructBuilder().Name("com.example.Item").Field("qty", schema.StringSchema).MustBuild()
	old, err := loose.FromConnect("items", s1, schema.NewStruct(s1).MustPut("qty", int64(2)))
	require.NoError(t, err)
	_, err = loose.FromConnect("items", s2, schema.NewStruct(s2).MustPut("qty", "two"))
	require.NoError(t, err)
	_, _, err = avroConverter(t, srv, false, map[string]string{"use.latest.version": "true"}).ToConnect("items", old)
	require.ErrorIs(t, err, avro.ErrIncompatible)
	require.Contains(t, err.Error(), `subject "items-value"`)
	require.Contains(t, err.Error(), "Item.qty: type changed from long to string")

	// A registry that keeps failing.
	srv.FailNext(http.StatusInternalServerError, 500, 500, 500)
	_, _, err = avroConverter(t, srv, false, map[string]string{"schema.registry.max.retries": "0"}).ToConnect("users", d1)
	require.ErrorIs(t, err, registry.ErrUnavailable)
}

func TestAvroConverterLatestTTL(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	c := avroConverter(t, srv, false, map[string]string{"use.latest.version": "true", "latest.cache.ttl.sec": "-1"})
	w := avroConverter(t, srv, false, nil)
	d, err := w.FromConnect("t", schema.Int32Schema, int32(1))
	require.NoError(t, err)
	latestRoute := registrytest.Pattern(http.MethodGet, "/subject/{s}/schema")
	for range 3 {
		_, _, err = c.ToConnect("t", d)
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Hits(latestRoute))
	c.mu.Lock()
	for k, l := range c.latest {
		l.fetched = time.Time{}
		c.latest[k] = l
	}
	c.latestTTL = time.Second
	c.mu.Unlock()
	_, _, err = c.ToConnect("t", d)
	require.NoError(t, err)
	require.Equal(t, 2, srv.Hits(latestRoute))
}

// A writer that may not register and writes with the latest schema looks the latest up again once
// latest.cache.ttl.sec has passed (0: for every record), so a new version is picked up.
func TestAvroConverterWriterLatestTTL(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	v1 := schema.StructBuilder().Name("com.example.User").Field("id", schema.Int64Schema).MustBuild()
	v2 := schema.StructBuilder().Name("com.example.User").Field("id", schema.Int64Schema).
		Field("email", schema.OptionalStringSchema).MustBuild()
	a1, err := avro.FromConnect(v1)
	require.NoError(t, err)
	a2, err := avro.FromConnect(v2)
	require.NoError(t, err)
	client := registryClient(t, srv)
	ctx := context.Background()
	r1, err := client.Register(ctx, "users-value", "users-value", registry.RegisterRequest{SchemaIDL: a1.String(), SchemaType: "AVRO"})
	require.NoError(t, err)

	w := avroConverter(t, srv, false, map[string]string{"auto.register.schemas": "false", "use.latest.version": "true",
		"latest.cache.ttl.sec": "0"})
	value := schema.NewStruct(v1).MustPut("id", int64(1))
	d1, err := w.FromConnect("users", v1, value)
	require.NoError(t, err)
	require.Equal(t, uint64(r1.RecordID), binary.BigEndian.Uint64(d1))

	r2, err := client.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: a2.String()})
	require.NoError(t, err)
	d2, err := w.FromConnect("users", v1, value)
	require.NoError(t, err)
	require.Equal(t, uint64(r2.RecordID), binary.BigEndian.Uint64(d2))
	s2, got, err := avroConverter(t, srv, false, nil).ToConnect("users", d2)
	require.NoError(t, err)
	require.True(t, s2.Equal(v2))
	require.True(t, schema.NewStruct(v2).MustPut("id", int64(1)).Equal(got.(*schema.Struct)))

	// With -1 the first latest is kept.
	keep := avroConverter(t, srv, false, map[string]string{"auto.register.schemas": "false", "use.latest.version": "true",
		"latest.cache.ttl.sec": "-1"})
	_, err = keep.FromConnect("users", v1, value)
	require.NoError(t, err)
	before := srv.Hits("")
	_, err = keep.FromConnect("users", v1, value)
	require.NoError(t, err)
	require.Equal(t, before, srv.Hits(""))
}

// Registry trouble reaches the converter's caller as registry.ErrUnavailable: a registry that throttles past the
// retries, and one that takes requests and never answers, which costs a conversion
// schema.registry.total.timeout.ms however long each attempt may take.
func TestAvroConverterRegistryUnavailable(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	s := schema.StructBuilder().Name("com.example.User").Field("id", schema.Int64Schema).MustBuild()
	value := schema.NewStruct(s).MustPut("id", int64(1))
	data, err := avroConverter(t, srv, false, nil).FromConnect("users", s, value)
	require.NoError(t, err)

	srv.FailNext(http.StatusTooManyRequests, http.StatusTooManyRequests)
	c := avroConverter(t, srv, false, map[string]string{"schema.registry.max.retries": "1"})
	_, _, err = c.ToConnectProps("users", data, nil)
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.Contains(t, err.Error(), `subject "users-value"`)
	srv.FailNext(http.StatusRequestTimeout, http.StatusRequestTimeout)
	_, _, err = c.FromConnectProps("users", s, value)
	require.ErrorIs(t, err, registry.ErrUnavailable)

	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hung.Close()
	for _, extra := range []map[string]string{nil, {"auto.register.schemas": "false"},
		{"auto.register.schemas": "false", "use.latest.version": "true"}} {
		cfg := map[string]string{"schema.registry.url": hung.URL, "schema.registry.timeout.ms": "3600000",
			"schema.registry.total.timeout.ms": "50"}
		for k, v := range extra {
			cfg[k] = v
		}
		c := NewAvroConverter()
		require.NoError(t, c.Configure(cfg, false))
		_, err := c.FromConnect("users", s, value)
		require.ErrorIs(t, err, registry.ErrUnavailable, extra)
		require.ErrorIs(t, err, context.DeadlineExceeded, extra)
		_, _, err = c.ToConnect("users", data)
		require.ErrorIs(t, err, registry.ErrUnavailable, extra)
	}
}
