// Command lines is an example connector plugin: a source that reads the lines of a file and a
// sink that appends record values to a file, served out of process with plugins/sdk. It also
// serves the built-in generator source and null sink under other names, to compare the cost
// of the plugin protocol with the built-in connectors (make bench).
//
// Build it, copy the binary into a directory named by the worker's pluginPaths, and use
// connector.class=example-line-source or example-line-sink.
package main

import (
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/sdk"
)

// version is the plugin's version; release builds set it with -ldflags "-X main.version=...".
var version = "1.0.0"

func main() {
	sdk.Serve(sdk.Plugin{Version: version, Connectors: []sdk.Connector{
		{Kind: plugins.KindSource, Name: SourceName, Aliases: []string{"com.example.connect.LineSourceConnector"},
			New: func() plugins.Connector { return &sourceConnector{} }},
		{Kind: plugins.KindSink, Name: SinkName, Aliases: []string{"com.example.connect.LineSinkConnector"},
			New: func() plugins.Connector { return &sinkConnector{} }},
		{Kind: plugins.KindSource, Name: "example-generator-source",
			New: func() plugins.Connector { return generator.NewSourceConnector() }},
		{Kind: plugins.KindSink, Name: "example-null-sink",
			New: func() plugins.Connector { return generator.NewSinkConnector(nil) }},
	}})
}
