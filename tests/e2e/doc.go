// Package e2e runs the real rmqconnect binary against a real RocketMQ broker: pipelines
// from files to topics to files, crashes with SIGKILL, and the REST API as a user drives it.
package e2e
