// Command oldproto is a test plugin that speaks protocol version 99, which no worker speaks.
package main

import (
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
)

func main() {
	hs := wire.Handshake
	hs.ProtocolVersion = 99
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		VersionedPlugins: map[int]plugin.PluginSet{99: {wire.PluginName: &wire.GRPCPlugin{
			ServeGRPC: func(_ *plugin.GRPCBroker, s *grpc.Server) error {
				pb.RegisterPluginServer(s, pb.UnimplementedPluginServer{})
				return nil
			}}}},
		GRPCServer: plugin.DefaultGRPCServer,
		Logger:     hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
	})
}
