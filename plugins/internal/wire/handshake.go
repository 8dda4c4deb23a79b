package wire

import (
	"context"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	"github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
)

// ProtocolVersion is the version of the plugin protocol (plugin.proto) this build speaks. It
// changes only with an incompatible change of the protocol; a worker refuses a plugin that
// speaks another version, naming both.
const ProtocolVersion = 1

// MaxMessage is the largest protocol message either side accepts: a batch is as large as
// its records (gRPC's default of 4 MiB would fail a Put of large records).
const MaxMessage = math.MaxInt32

// window is the HTTP/2 flow-control window of each stream and connection between a worker and
// a plugin process: a batch (a Put's records, a Poll's reply) crosses in one go instead of
// waiting for window updates every 64 KiB, and a fixed window turns gRPC's bandwidth
// estimation off, whose pings cost a frame and a wake-up per message. The peers share a host,
// so a large window costs no memory until data is in flight.
const window = 16 << 20

// ioBuffer is the size of each side's transport write and read buffer: a batch of a few
// hundred records is written and read in one system call.
const ioBuffer = 256 << 10

// DialOptions are the gRPC options of a connection to the other side (the worker's to the
// plugin process, the plugin's to the worker's Host service). Messages are marshalled and
// read into buffers that are not cleared (codec, dirtyPool); the wire form is gRPC's own.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage),
			grpc.ForceCodecV2(codec{})),
		experimental.WithBufferPool(dirtyPool),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		grpc.WithWriteBufferSize(ioBuffer), grpc.WithReadBufferSize(ioBuffer),
	}
}

// ServerOptions are the gRPC options of a server for the other side (the plugin's Plugin
// service, the worker's Host service), with the buffers of DialOptions.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage),
		grpc.ForceServerCodecV2(codec{}), experimental.BufferPool(dirtyPool),
		grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window),
		grpc.WriteBufferSize(ioBuffer), grpc.ReadBufferSize(ioBuffer),
		grpc.NumStreamWorkers(streamWorkers),
	}
}

// streamWorkers is how many goroutines of a server run calls, each in turn: a call on a new
// goroutine grew its stack again (a batch's decoding needs more than a fresh goroutine's) and
// copied it, on every Put. A call finding them all busy gets a goroutine of its own; the worker
// makes at most a Put and a Flush at once.
const streamWorkers = 2

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
