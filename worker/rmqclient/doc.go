// Package rmqclient is rmqconnect's only door to RocketMQ: every other package talks to the
// broker through it, and it alone imports github.com/apache/rocketmq-client-go/v2.
//
// It neutralises the sharp edges of client v2.1.2: name servers are always explicit (the
// default HTTP resolver is never used), client logs go to slog at warn and above without
// message bodies, primitive.PanicHandler is set so library goroutine panics are logged
// rather than fatal, every producer and consumer gets its own instance name, sends are
// synchronous (SendAsync's failure path dereferences nil in v2.1.2) and never panic into
// the caller, topic creation returns only once the name servers route the topic, and a
// consumer handler that panics has the batch retried instead of stalling its queue.
//
// A topic's route and the broker list join the views of every name server that answers
// (each knows only the brokers registered with it since it started), so one that has just
// restarted or lags cannot shrink them.
package rmqclient
