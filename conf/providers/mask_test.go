package providers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultSecretKey(t *testing.T) {
	secret := []string{
		"password", "db.password", "connection.password", "dbPassword", "ssl.key.password", "ssl.truststore.password",
		"passwd", "client.secret", "secret", "secret.key", "secretKey", "aws.secret.access.key", "access.key", "accessKey",
		"rocketmq.accessKey", "api.key", "apiKey", "private.key", "auth.token", "token", "sasl.jaas.config",
		"google.credentials", "DB.PASSWORD",
	}
	plain := []string{
		"", "name", "connector.class", "key.converter", "value.converter", "tasks.max", "max.tasks", "topics",
		"password.file.path", "secret.enable", "tokens.max", "user", "connection.url", "key",
	}
	for _, k := range secret {
		require.True(t, DefaultSecretKey(k), k)
	}
	for _, k := range plain {
		require.False(t, DefaultSecretKey(k), k)
	}
}

func TestMask(t *testing.T) {
	cfg := map[string]string{
		"connector.class":     "jdbc-sink",
		"connection.url":      "jdbc:mysql://db/app?user=${env:DB_USER}",
		"connection.password": "hunter2",
		"db.password":         "${file:/run/secrets/db.properties:password}",
		"api.key":             "${env:A}${env:B}",
		"secretKey":           "prefix-${env:SK}",
		"escaped.secret":      "$${env:X}",
		"broken.password":     "${env:X",
		"empty.password":      "",
		"custom.field":        "visible-to-default-rule",
		"oauth.bearer":        "${env:BEARER}",
	}
	isCustom := func(k string) bool { return k == "custom.field" }
	got := Mask(cfg, isCustom)
	require.Equal(t, map[string]string{
		"connector.class":     "jdbc-sink",
		"connection.url":      "jdbc:mysql://db/app?user=${env:DB_USER}", // not secret: as written
		"connection.password": Hidden,
		"db.password":         "${file:/run/secrets/db.properties:password}", // placeholder only
		"api.key":             "${env:A}${env:B}",
		"secretKey":           Hidden, // literal text next to the placeholder may be secret
		"escaped.secret":      Hidden, // an escape is literal text
		"broken.password":     Hidden,
		"empty.password":      Hidden,
		"custom.field":        Hidden, // the caller's predicate
		"oauth.bearer":        "${env:BEARER}",
	}, got)
	require.Equal(t, "hunter2", cfg["connection.password"], "the input is not modified")

	require.Equal(t, map[string]string{"custom.field": "visible-to-default-rule"}, Mask(map[string]string{"custom.field": "visible-to-default-rule"}, nil))
	require.Nil(t, Mask(nil, nil))
}
