package admin

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// allocatedTask is one entry of RocketMQ Connect's /allocated/tasks lists.
type allocatedTask struct {
	ConnectorName string            `json:"connectorName"`
	TaskID        int               `json:"taskId"`
	Config        map[string]string `json:"config"`
	TaskState     string            `json:"taskState"`
}

// allocatedRoutes serves RocketMQ Connect's per-worker views: what runs on THIS worker.
func (s *Server) allocatedRoutes() {
	s.engine.GET("/allocated/connectors", func(c *gin.Context) {
		ctx := c.Request.Context()
		if s.rebalancing(c) {
			return
		}
		names, err := s.herder.Connectors(ctx)
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		out := map[string]map[string]string{}
		for _, name := range names {
			st, err := s.herder.ConnectorStatus(ctx, name)
			if err != nil || st.Connector.WorkerID != s.herder.WorkerID() {
				continue // deleted meanwhile, or runs elsewhere
			}
			info, err := s.herder.ConnectorInfo(ctx, name)
			if err != nil {
				continue
			}
			out[name] = info.Config
		}
		rmqOK(c, out)
	})
	s.engine.GET("/allocated/tasks", func(c *gin.Context) {
		ctx := c.Request.Context()
		if s.rebalancing(c) {
			return
		}
		names, err := s.herder.Connectors(ctx)
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		lists := map[string][]allocatedTask{"pendingTasks": {}, "runningTasks": {}, "stoppingTasks": {}, "stoppedTasks": {}, "errorTasks": {}}
		for _, name := range names {
			st, err := s.herder.ConnectorStatus(ctx, name)
			if err != nil {
				continue
			}
			tasks, err := s.herder.TaskConfigs(ctx, name)
			if err != nil {
				continue
			}
			cfgs := map[int]map[string]string{}
			for _, t := range tasks {
				cfgs[t.ID.Task] = t.Config
			}
			for _, ts := range st.Tasks {
				if ts.WorkerID != s.herder.WorkerID() {
					continue
				}
				list, state := allocatedBucket(ts.State)
				lists[list] = append(lists[list], allocatedTask{ConnectorName: name, TaskID: ts.ID, Config: cfgs[ts.ID], TaskState: state})
			}
		}
		rmqOK(c, lists)
	})
}

// allocatedBucket maps a task state to RocketMQ Connect's list and state name.
func allocatedBucket(s restapi.State) (list, state string) {
	switch s {
	case restapi.StateRunning:
		return "runningTasks", "RUNNING"
	case restapi.StateFailed:
		return "errorTasks", "ERROR"
	case restapi.StatePaused, restapi.StateStopped:
		return "stoppedTasks", "STOPPED"
	default:
		return "pendingTasks", "PENDING"
	}
}

// rebalancing answers 409 (and returns true) while the herder applies an assignment change.
func (s *Server) rebalancing(c *gin.Context) bool {
	if rh, ok := s.herder.(RebalanceHerder); ok && rh.Rebalancing() {
		s.rmqFail(c, fmt.Errorf("what runs on worker %s is changing: %w", s.herder.WorkerID(), restapi.ErrRebalancing))
		return true
	}
	return false
}
