package sdk

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/schema"
)

func background() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), hostTimeout)
}

type connectorContext struct {
	host pb.HostClient
	log  *slog.Logger
	vals plugins.Values
}

func (c *connectorContext) RequestTaskReconfiguration() {
	ctx, cancel := background()
	defer cancel()
	if _, err := c.host.RequestTaskReconfiguration(ctx, &pb.Empty{}); err != nil {
		c.log.Warn("request task reconfiguration", "err", err)
	}
}

func (c *connectorContext) RaiseError(err error) {
	ctx, cancel := background()
	defer cancel()
	if _, herr := c.host.RaiseError(ctx, wire.EncodeError(err)); herr != nil {
		c.log.Error("raise error", "err", err, "send_err", herr)
	}
}

func (c *connectorContext) Logger() *slog.Logger   { return c.log }
func (c *connectorContext) Config() plugins.Values { return c.vals }

type positionReader struct{ host pb.HostClient }

func (p positionReader) Position(ctx context.Context, partition map[string]any) (map[string]any, error) {
	pps, err := p.Positions(ctx, []map[string]any{partition})
	if err != nil || len(pps) == 0 {
		return nil, err
	}
	return pps[0].Offset, nil
}

func (p positionReader) Positions(ctx context.Context, partitions []map[string]any) ([]plugins.PartitionPosition, error) {
	req := &pb.PositionsRequest{}
	for _, part := range partitions {
		v, err := wire.Object(part)
		if err != nil {
			return nil, fmt.Errorf("positions: partition %v: %w", part, err)
		}
		req.Partitions = append(req.Partitions, v)
	}
	rep, err := p.host.Positions(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("positions: %w", err)
	}
	if err := wire.DecodeError(rep.Error); err != nil {
		return nil, err
	}
	out := make([]plugins.PartitionPosition, 0, len(rep.Positions))
	used := make([]bool, len(partitions))
	next := 0 // the engine answers in the order asked: the search starts after the last match
	for _, pp := range rep.Positions {
		// The task's own partition map, as the engine answers a task in its process: the one
		// that crossed is a copy whose values may have other Go types (an int is an int64).
		var part map[string]any
		for k := range req.Partitions {
			i := (next + k) % len(req.Partitions)
			if !used[i] && proto.Equal(req.Partitions[i], pp.Partition) {
				used[i], part, next = true, partitions[i], i+1
				break
			}
		}
		if part == nil {
			var err error
			if part, err = wire.DecodeObject(pp.Partition); err != nil {
				return nil, err
			}
		}
		off, err := wire.DecodeObject(pp.Offset)
		if err != nil {
			return nil, err
		}
		out = append(out, plugins.PartitionPosition{Partition: part, Offset: off})
	}
	return out, nil
}

type sourceContext struct {
	positions positionReader
	log       *slog.Logger
	vals      plugins.Values
}

func (c *sourceContext) Positions() plugins.PositionReader { return c.positions }
func (c *sourceContext) Logger() *slog.Logger              { return c.log }
func (c *sourceContext) Config() plugins.Values            { return c.vals }

type sinkContext struct {
	host pb.HostClient
	log  *slog.Logger
	vals plugins.Values
}

func (c *sinkContext) Assignment() []plugins.Queue {
	ctx, cancel := background()
	defer cancel()
	rep, err := c.host.Assignment(ctx, &pb.Empty{})
	if err != nil {
		c.log.Warn("read the assignment", "err", err)
		return nil
	}
	return wire.FromQueuesMsg(rep.Queues)
}

func (c *sinkContext) ResetOffsets(offsets map[plugins.Queue]int64) {
	ctx, cancel := background()
	defer cancel()
	if _, err := c.host.ResetOffsets(ctx, &pb.OffsetsRequest{Offsets: wire.OffsetsMsg(offsets)}); err != nil {
		c.log.Warn("reset offsets", "err", err)
	}
}

func (c *sinkContext) Pause(queues ...plugins.Queue) {
	ctx, cancel := background()
	defer cancel()
	if _, err := c.host.Pause(ctx, &pb.QueuesRequest{Queues: wire.QueuesMsg(queues)}); err != nil {
		c.log.Warn("pause", "err", err)
	}
}

func (c *sinkContext) Resume(queues ...plugins.Queue) {
	ctx, cancel := background()
	defer cancel()
	if _, err := c.host.Resume(ctx, &pb.QueuesRequest{Queues: wire.QueuesMsg(queues)}); err != nil {
		c.log.Warn("resume", "err", err)
	}
}

func (c *sinkContext) ErrantRecordReporter() plugins.ErrantRecordReporter { return reporter{c.host} }
func (c *sinkContext) Logger() *slog.Logger                               { return c.log }
func (c *sinkContext) Config() plugins.Values                             { return c.vals }

type reporter struct{ host pb.HostClient }

func (r reporter) Report(ctx context.Context, rec *schema.Record, cause error) error {
	b, err := wire.EncodeBatch([]*schema.Record{rec})
	if err != nil {
		return fmt.Errorf("report a record: %w (the record's error: %w)", err, cause)
	}
	rep, err := r.host.Report(ctx, &pb.ReportRequest{Batch: b, Error: wire.EncodeError(cause)})
	if err != nil {
		return fmt.Errorf("report a record: %w (the record's error: %w)", err, cause)
	}
	if rerr := wire.DecodeError(rep.Error); rerr != nil {
		return fmt.Errorf("%w (%w)", rerr, cause)
	}
	return nil
}
