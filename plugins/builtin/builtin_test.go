package builtin_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
)

func TestRegistry(t *testing.T) {
	r, err := builtin.Registry()
	require.NoError(t, err)

	tests := []struct {
		name string
		kind plugins.Kind
		want string
	}{
		{"file-source", plugins.KindSource, "file-source"},
		{"org.apache.rocketmq.connect.file.FileSourceConnector", plugins.KindSource, "file-source"},
		{"org.apache.kafka.connect.file.FileStreamSourceConnector", plugins.KindSource, "file-source"},
		{"file-sink", plugins.KindSink, "file-sink"},
		{"org.apache.rocketmq.connect.file.FileSinkConnector", plugins.KindSink, "file-sink"},
		{"org.apache.kafka.connect.file.FileStreamSinkConnector", plugins.KindSink, "file-sink"},
		{"generator-source", plugins.KindSource, "generator-source"},
		{"null-sink", plugins.KindSink, "null-sink"},
		{"jdbc-source", plugins.KindSource, "jdbc-source"},
		{"org.apache.rocketmq.connect.jdbc.connector.JdbcSourceConnector", plugins.KindSource, "jdbc-source"},
		{"io.confluent.connect.jdbc.JdbcSourceConnector", plugins.KindSource, "jdbc-source"},
		{"jdbc-sink", plugins.KindSink, "jdbc-sink"},
		{"org.apache.rocketmq.connect.jdbc.connector.JdbcSinkConnector", plugins.KindSink, "jdbc-sink"},
		{"io.confluent.connect.jdbc.JdbcSinkConnector", plugins.KindSink, "jdbc-sink"},
		{"postgres-cdc", plugins.KindSource, "postgres-cdc"},
		{"org.apache.rocketmq.connect.debezium.postgres.DebeziumPostgresConnector", plugins.KindSource, "postgres-cdc"},
		{"io.debezium.connector.postgresql.PostgresConnector", plugins.KindSource, "postgres-cdc"},
		{"mysql-cdc", plugins.KindSource, "mysql-cdc"},
		{"org.apache.rocketmq.connect.debezium.mysql.DebeziumMysqlConnector", plugins.KindSource, "mysql-cdc"},
		{"io.debezium.connector.mysql.MySqlConnector", plugins.KindSource, "mysql-cdc"},
		{"http-source", plugins.KindSource, "http-source"},
		{"http-sink", plugins.KindSink, "http-sink"},
		{"kafka-source", plugins.KindSource, "kafka-source"},
		{"org.apache.rocketmq.connect.kafka.connector.KafkaSourceConnector", plugins.KindSource, "kafka-source"},
		{"kafka-sink", plugins.KindSink, "kafka-sink"},
		{"org.apache.rocketmq.connect.kafka.connector.KafkaSinkConnector", plugins.KindSink, "kafka-sink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := r.Lookup(tt.name)
			require.NoError(t, err)
			require.Equal(t, tt.want, info.Name)
			require.Equal(t, tt.kind, info.Kind)
			c, err := r.New(tt.name)
			require.NoError(t, err, "factory builds a connector of its registered kind")
			require.NotNil(t, c)
		})
	}
	names := map[string]bool{}
	for _, tt := range tests {
		names[tt.want] = true
	}
	require.Len(t, r.List(), len(names), "every registered connector is in the table above")

	_, err = r.Lookup("nope")
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin)
}

func TestRegistryIsFresh(t *testing.T) {
	a, err := builtin.Registry()
	require.NoError(t, err)
	b, err := builtin.Registry()
	require.NoError(t, err)
	require.NoError(t, a.Register(plugins.KindSink, "extra", nil, func() plugins.Connector { return nil }))
	_, err = b.Lookup("extra")
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin, "registries share nothing")
	err = a.Register(plugins.KindSource, "x", []string{"file-source"}, func() plugins.Connector { return nil })
	require.ErrorIs(t, err, plugins.ErrDuplicatePlugin)
}
