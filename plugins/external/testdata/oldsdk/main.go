// Command oldsdk is a test plugin that serves protocol version 1 as an SDK from before PutFlush
// did: its Describe says nothing of put_flush and PutFlush is unimplemented. With
// OLDSDK_PUT_FLUSH=1 in its environment it is an SDK from between PutFlush and the Puts stream:
// it says put_flush and serves PutFlush, but not Puts. Its sink,
// old-line-sink, appends each record's value to the file its config names and a line "flush"
// for each Flush.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
)

// putFlush: serve PutFlush (OLDSDK_PUT_FLUSH=1).
var putFlush = os.Getenv("OLDSDK_PUT_FLUSH") == "1"

var spec = plugins.MustConfigSpec(plugins.Field{Name: "file", Type: plugins.TypeString, Required: true})

type server struct {
	pb.UnimplementedPluginServer
	mu   sync.Mutex
	file string
}

func (s *server) Describe(context.Context, *pb.Empty) (*pb.DescribeReply, error) {
	return &pb.DescribeReply{Version: "0.1.0", SdkVersion: "old", PutFlush: putFlush, Connectors: []*pb.ConnectorDescription{
		{Kind: string(plugins.KindSink), Name: "old-line-sink", Spec: wire.EncodeSpec(spec)}}}, nil
}

func (s *server) SinkStart(_ context.Context, req *pb.TaskStartRequest) (*pb.ErrorReply, error) {
	s.mu.Lock()
	s.file = req.Config["file"]
	s.mu.Unlock()
	return &pb.ErrorReply{}, nil
}

func (s *server) write(lines ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintln(f, l); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) Put(_ context.Context, req *pb.PutRequest) (*pb.ErrorReply, error) {
	recs, err := wire.DecodeBatch(req.Batch)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, r := range recs {
		lines = append(lines, fmt.Sprint(r.Value))
	}
	return &pb.ErrorReply{Error: wire.EncodeError(s.write(lines...))}, nil
}

func (s *server) Flush(context.Context, *pb.OffsetsRequest) (*pb.ErrorReply, error) {
	return &pb.ErrorReply{Error: wire.EncodeError(s.write("flush"))}, nil
}

func (s *server) PutFlush(ctx context.Context, req *pb.PutFlushRequest) (*pb.PutFlushReply, error) {
	if !putFlush {
		return s.UnimplementedPluginServer.PutFlush(ctx, req)
	}
	put, err := s.Put(ctx, &pb.PutRequest{Batch: req.Batch})
	if err != nil || put.Error != nil {
		return &pb.PutFlushReply{PutError: put.GetError()}, err
	}
	flush, err := s.Flush(ctx, &pb.OffsetsRequest{Offsets: req.Offsets})
	return &pb.PutFlushReply{FlushError: flush.GetError()}, err
}

func (s *server) SinkStop(context.Context, *pb.StopRequest) (*pb.ErrorReply, error) {
	return &pb.ErrorReply{}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &wire.GRPCPlugin{
			ServeGRPC: func(_ *plugin.GRPCBroker, s *grpc.Server) error {
				pb.RegisterPluginServer(s, &server{})
				return nil
			}}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
	})
}
