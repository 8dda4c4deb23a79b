// Package replicator holds rocketmq-replicator, a source connector that copies topics from
// another RocketMQ cluster into the worker's cluster, and its two companions:
// rocketmq-replicator-checkpoint, which translates chosen consumer groups' committed
// offsets on the source cluster into offsets on the target (from the offset syncs the
// replicator records while it copies) and can apply them to the target group, and
// rocketmq-replicator-heartbeat, which writes heartbeats on the source cluster so that
// replication lag stays measured when the replicated topics are idle.
//
// Invariants: a task commits the position of a source queue only after every message
// before it was acknowledged by the target (the engine's contiguous-ack rule), so nothing
// is lost across a crash; the messages of one source queue go to one target queue in order
// (ordering.msg.enable defaults to true, and must stay true while offset syncs are
// written), which is what makes an offset sync (source queue, offset) → (target queue,
// offset) exact; the target queue index of a source queue is its number among its topic's
// queues by broker name, then queue id, never its place in a listing, and a task that sees
// a source queue's copies land on another target queue (the queues changed) logs it and
// writes an offset sync for the first copy there, where a group still behind the move
// resumes on that queue (its checkpoint there); a source queue that cannot be read never
// stops the task's other queues; a message the client cannot decode is handed to the
// engine as a failed record (errors.tolerance decides) in a poll after the one with the
// messages before it, never skipped unseen nor pulled again for ever; offset syncs and
// checkpoints name the source cluster by its alias, never by a broker or cluster name,
// since two clusters are often named alike; every client a task makes carries an instance
// name unique to the cluster, the connector, the task and the process, because the client
// library keeps one client per IP and instance name.
package replicator
