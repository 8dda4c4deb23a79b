// Package e2e runs the HTTP connectors in an in-process worker against the real RocketMQ broker (tests/rmqtest):
// http-sink delivering every record to a server that fails often, and http-source's listener under a flood
// of bad requests. It holds tests only.
package e2e
