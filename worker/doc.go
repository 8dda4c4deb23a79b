// Package worker is the node-local runtime: it runs connectors and tasks, tracks positions
// and status, and talks to RocketMQ only through worker/rmqclient.
//
// The engine (engine.go) runs connectors and tasks: runtime.go (a connector's lifecycle), tasks.go (task supervisors
// and the start of a task), source.go and sink.go (the task loops; sink_pull.go the sink's pulls, sink_commit.go
// its group commit), plugincall.go (plugin calls: panics caught, work contexts fenced), errhandling.go and dlq.go (error policy,
// dead-letter queue), connconfig.go and validate.go (a connector config checked and parsed once), offsets.go,
// metrics.go, metrics_hist.go and metrics_plugin.go (the families plugins declare through plugins.Metrics, removed
// when their task stops). Two herders each own one engine and tell it what to run; the engine asks its herder's
// placement (placement.go) where task configs, claims, status and positions go. herder.go is the standalone herder
// (a file store, localPlacement); the distributed herder (clusterPlacement) is split by concern — distributed.go
// (wiring and Run), membership.go (who is alive, the lease), reconcile.go (placement is decided by package
// scheduler's strategy, the same pure function run by every worker; each worker stops and starts only its own units,
// and a claim makes a moved unit's new owner wait until the old owner has stopped it),
// runtime_cluster.go (a runtime moved to the assignment), claims.go (compare-and-set claims, fencing), storelog.go,
// storeapply.go and clusterstate.go (the store topics and their folds), statuswriter.go, clusterpositions.go,
// clustercache.go, snapshots.go and clusterreplays.go.
//
// Lock order. A lock on the left may be held while one further right is taken, never the
// reverse; locks on the same line are never nested with each other.
//
//	Standalone.names (the lock of one connector name: create, put, patch, delete, target, offsets),
//	Distributed.names (this worker's target changes, deletes and offset changes of one connector)
//	  → engine.replayMu, connRuntime.opMu
//	  → storeLog.mu (held while the log's apply callbacks fold a record, and while saveCache reads its fold)
//	  → Standalone.mu (the stored configs)
//	  → engine.mu (the runtimes)
//	  → connRuntime.mu
//	  → leaves: Distributed.mu, Distributed.reportMu, engine.producerMu,
//	    FilePositionStore.mu, scrubber.mu, sourceRunner.pendingMu, sinkRunner.assignMu, crew.mu
//	sinkRunner.mu → scrubber.mu, engine.producerMu (a task's Logger and ErrantRecordReporter),
//	  sinkRunner.confirmMu (a PreCommit answer)
//
// Nothing is taken under a leaf. Plugin code runs only under a connector's name lock
// (Validate, and Start, TaskConfigs and Stop through the runtime it installs or replaces),
// connRuntime.opMu (one connector's apply/restart/shutdown: Start, TaskConfigs, Stop) and
// sinkRunner.mu (a sink task's Put, Flush and PreCommit); Standalone.mu, engine.mu, Distributed.mu
// and connRuntime.mu never hold plugin code. A "...Locked" function keeps its lock
// throughout.
package worker
