// Command lines is an example connector plugin: a source that reads the lines of a file and a
// sink that appends record values to a file, served out of process with plugins/sdk. It also
// serves the built-in generator source and null sink under other names, to compare the cost
// of the plugin protocol with the built-in connectors (make bench).
//
// Build it, copy the binary into a directory named by the worker's pluginPaths, and use
// connector.class=example-line-source or example-line-sink.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/sdk"
)

// version is the plugin's version; release builds set it with -ldflags "-X main.version=...".
var version = "1.0.0"

// envCPUProfile names a directory: when set, each process of the plugin writes its CPU
// profile there as cpu-<pid>.out (for profiling the plugin side of make bench).
const envCPUProfile = "RMQC_EXAMPLE_CPUPROFILE_DIR"

func main() {
	if dir := os.Getenv(envCPUProfile); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.out", os.Getpid())))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		}
	}
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
