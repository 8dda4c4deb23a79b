// Package worker is the node-local runtime: it runs the connectors and tasks assigned to
// this process, tracks positions and status, and talks to RocketMQ only through
// worker/rmqclient. A worker runs what it is assigned; it never decides placement.
package worker
