// Command baddescribe is a test plugin whose Describe answer breaks the registry's rules, as
// BADDESCRIBE in its environment says: "dupname" gives two connectors one name, "dupalias"
// gives a connector its own name as an alias, "blankalias" gives one a blank alias. It serves
// nothing else: the worker refuses it at Describe.
package main

import (
	"context"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
)

var spec = plugins.MustConfigSpec(plugins.Field{Name: "file", Type: plugins.TypeString})

type server struct{ pb.UnimplementedPluginServer }

func (server) Describe(context.Context, *pb.Empty) (*pb.DescribeReply, error) {
	conn := func(name string, aliases ...string) *pb.ConnectorDescription {
		return &pb.ConnectorDescription{Kind: string(plugins.KindSource), Name: name, Aliases: aliases, Spec: wire.EncodeSpec(spec)}
	}
	rep := &pb.DescribeReply{Version: "0.0.1", SdkVersion: "fake"}
	switch os.Getenv("BADDESCRIBE") {
	case "dupname":
		rep.Connectors = []*pb.ConnectorDescription{conn("bad-source"), conn("bad-source")}
	case "dupalias":
		rep.Connectors = []*pb.ConnectorDescription{conn("bad-source", "bad-source")}
	case "blankalias":
		rep.Connectors = []*pb.ConnectorDescription{conn("bad-source", " ")}
	default:
		rep.Connectors = []*pb.ConnectorDescription{conn("bad-source")}
	}
	return rep, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &wire.GRPCPlugin{
			ServeGRPC: func(_ *plugin.GRPCBroker, s *grpc.Server) error {
				pb.RegisterPluginServer(s, server{})
				return nil
			}}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
	})
}
