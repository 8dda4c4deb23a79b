// Package remoting speaks just enough of RocketMQ's remoting protocol for the calls that
// rocketmq-client-go v2.1.2 keeps internal or does slowly: broker cluster info and routes
// from the name server, queue and consumer-group offsets, and pulls at explicit offsets
// from a broker (with the message decoding they need). A Client with a Pool keeps one
// connection per address and multiplexes requests over it by opaque; without one, each
// request dials.
package remoting
