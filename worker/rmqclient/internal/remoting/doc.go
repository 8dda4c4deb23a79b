// Package remoting speaks just enough of RocketMQ's remoting protocol for the calls that
// rocketmq-client-go v2.1.2 keeps internal: broker cluster info from the name server and
// queue offsets from a broker. Each call dials, sends one request and reads one response;
// these calls are rare (topic creation, catch-up checks), so no connection is kept.
package remoting
