package wire

import (
	"context"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
)

// ProtocolVersion is the version of the plugin protocol (plugin.proto) this build speaks. It
// changes only with an incompatible change of the protocol; a worker refuses a plugin that
// speaks another version, naming both.
const ProtocolVersion = 1

// MaxMessage is the largest protocol message either side accepts: a batch is as large as
// its records (gRPC's default of 4 MiB would fail a Put of large records).
const MaxMessage = math.MaxInt32

// PluginName is the one plugin a plugin binary serves in go-plugin's terms.
const PluginName = "connector"

// Handshake is the go-plugin handshake: the cookie tells a plugin binary it was started by a
// worker (run by hand, it says so and exits).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RMQCONNECT_PLUGIN",
	MagicCookieValue: "f3b1c2d4-connector-plugin",
}

// EnvParentPID is set by the worker to its process id; a plugin exits when its parent is no
// longer that process (the worker died, even by SIGKILL).
const EnvParentPID = "RMQCONNECT_PLUGIN_PARENT_PID"

// Conn is the worker's side of a connected plugin process.
type Conn struct {
	Plugin pluginpb.PluginClient
	Broker *plugin.GRPCBroker
}

// GRPCPlugin adapts both sides to go-plugin: the plugin binary sets ServeGRPC; the worker uses
// GRPCClient, which returns a *Conn.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	ServeGRPC func(*plugin.GRPCBroker, *grpc.Server) error
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error { return p.ServeGRPC(b, s) }

// GRPCClient implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Conn{Plugin: pluginpb.NewPluginClient(c), Broker: b}, nil
}
