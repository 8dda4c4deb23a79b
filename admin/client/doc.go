// Package client is a typed Go client for the worker's admin REST API: the Kafka Connect routes
// (decoded into package worker's types) and the RocketMQ Connect routes it needs. The CLI
// (rmqconnect admin) is built on it.
//
// Every error from a call is either an *APIError (the worker answered with a non-2xx status;
// it carries the status and the worker's message) or a *TransportError (no usable answer: the
// connection failed, timed out, or the body could not be read or decoded); both name the
// method and URL.
package client
