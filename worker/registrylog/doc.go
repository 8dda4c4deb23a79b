// Package registrylog stores the schema registry's event log (server.Log) in a single-queue RocketMQ topic: Append
// sends one message synchronously, Run replays the queue from its first offset with a broadcast consumer of a
// group unique to this reader and then follows it, and Sync waits until the local reader has applied everything
// up to the queue's max offset read from the broker (or past its own latest append, which the broker may not have
// indexed yet when it answers the send).
//
// Invariants: events are applied strictly in queue-offset order, each once, whatever order or repetition the
// consumer delivers them in; positions are queue offsets, the same for every reader; a reader never starts from
// a stored offset (its group is new), so every process replays the whole topic.
package registrylog
