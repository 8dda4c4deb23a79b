package builtin

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
	cdcmysql "github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	cdcpostgres "github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
)

type connector struct {
	kind    plugins.Kind
	name    string
	aliases []string
	factory plugins.Factory
}

// connectors is the one list of built-in connectors.
func connectors() []connector {
	return []connector{
		{plugins.KindSource, file.SourceName, file.SourceAliases,
			func() plugins.Connector { return file.NewSourceConnector() }},
		{plugins.KindSink, file.SinkName, file.SinkAliases,
			func() plugins.Connector { return file.NewSinkConnector() }},
		{plugins.KindSource, generator.SourceName, nil,
			func() plugins.Connector { return generator.NewSourceConnector() }},
		{plugins.KindSink, generator.SinkName, nil,
			func() plugins.Connector { return generator.NewSinkConnector(nil) }},
		{plugins.KindSource, jdbc.SourceName, jdbc.SourceAliases,
			func() plugins.Connector { return jdbc.NewSourceConnector() }},
		{plugins.KindSink, jdbc.SinkName, jdbc.SinkAliases,
			func() plugins.Connector { return jdbc.NewSinkConnector() }},
		{plugins.KindSource, cdcpostgres.Name, cdcpostgres.Aliases,
			func() plugins.Connector { return cdcpostgres.NewConnector() }},
		{plugins.KindSource, cdcmysql.Name, cdcmysql.Aliases,
			func() plugins.Connector { return cdcmysql.NewConnector() }},
		{plugins.KindSource, httpconn.SourceName, nil, func() plugins.Connector { return httpconn.NewSourceConnector() }},
		{plugins.KindSink, httpconn.SinkName, nil, func() plugins.Connector { return httpconn.NewSinkConnector() }},
		{plugins.KindSource, kafka.SourceName, kafka.SourceAliases, func() plugins.Connector { return kafka.NewSourceConnector() }},
		{plugins.KindSink, kafka.SinkName, kafka.SinkAliases, func() plugins.Connector { return kafka.NewSinkConnector() }},
	}
}

// Registry returns a new registry holding every built-in connector under its short name and aliases. Callers
// may register more connectors in it.
func Registry() (*plugins.Registry, error) {
	r := plugins.NewRegistry()
	for _, c := range connectors() {
		if err := r.Register(c.kind, c.name, c.aliases, c.factory); err != nil {
			return nil, fmt.Errorf("builtin registry: %w", err)
		}
	}
	return r, nil
}
