package external

import (
	"context"
	"errors"
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
)

// errNoContext answers a context call the instance's kind does not have.
var errNoContext = errors.New("this instance has no such context")

// hostService serves the engine's context of one instance to its process.
type hostService struct {
	pb.UnimplementedHostServer
	conn      plugins.ConnectorContext
	positions plugins.PositionReader
	sink      plugins.SinkTaskContext
}

func (h *hostService) RequestTaskReconfiguration(context.Context, *pb.Empty) (*pb.Empty, error) {
	if h.conn == nil {
		return nil, errNoContext
	}
	h.conn.RequestTaskReconfiguration()
	return &pb.Empty{}, nil
}

func (h *hostService) RaiseError(_ context.Context, e *pb.Error) (*pb.Empty, error) {
	if h.conn == nil {
		return nil, errNoContext
	}
	h.conn.RaiseError(wire.DecodeError(e))
	return &pb.Empty{}, nil
}

func (h *hostService) Positions(ctx context.Context, req *pb.PositionsRequest) (*pb.PositionsReply, error) {
	if h.positions == nil {
		return nil, errNoContext
	}
	parts := make([]map[string]any, 0, len(req.Partitions))
	for _, v := range req.Partitions {
		p, err := wire.DecodeObject(v)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	pps, err := h.positions.Positions(ctx, parts)
	if err != nil {
		return &pb.PositionsReply{Error: wire.EncodeError(err)}, nil
	}
	out := &pb.PositionsReply{}
	for _, pp := range pps {
		part, err := wire.Object(pp.Partition)
		if err != nil {
			return nil, err
		}
		off, err := wire.Object(pp.Offset)
		if err != nil {
			return nil, err
		}
		out.Positions = append(out.Positions, &pb.PartitionPosition{Partition: part, Offset: off})
	}
	return out, nil
}

func (h *hostService) Report(ctx context.Context, req *pb.ReportRequest) (*pb.ErrorReply, error) {
	if h.sink == nil {
		return nil, errNoContext
	}
	recs, err := wire.DecodeBatch(req.Batch)
	if err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("report: want one record: %v", err)
	}
	return &pb.ErrorReply{Error: wire.EncodeError(h.sink.ErrantRecordReporter().Report(ctx, recs[0], wire.DecodeError(req.Error)))}, nil
}

func (h *hostService) Assignment(context.Context, *pb.Empty) (*pb.QueuesRequest, error) {
	if h.sink == nil {
		return nil, errNoContext
	}
	return &pb.QueuesRequest{Queues: wire.QueuesMsg(h.sink.Assignment())}, nil
}

func (h *hostService) ResetOffsets(_ context.Context, req *pb.OffsetsRequest) (*pb.Empty, error) {
	if h.sink == nil {
		return nil, errNoContext
	}
	h.sink.ResetOffsets(wire.FromOffsetsMsg(req.Offsets))
	return &pb.Empty{}, nil
}

func (h *hostService) Pause(_ context.Context, req *pb.QueuesRequest) (*pb.Empty, error) {
	if h.sink == nil {
		return nil, errNoContext
	}
	h.sink.Pause(wire.FromQueuesMsg(req.Queues)...)
	return &pb.Empty{}, nil
}

func (h *hostService) Resume(_ context.Context, req *pb.QueuesRequest) (*pb.Empty, error) {
	if h.sink == nil {
		return nil, errNoContext
	}
	h.sink.Resume(wire.FromQueuesMsg(req.Queues)...)
	return &pb.Empty{}, nil
}
