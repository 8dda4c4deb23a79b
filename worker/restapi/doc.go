// Package restapi holds the types of the worker's management API: the values the admin REST
// server returns and the client decodes, the sentinel errors they map to HTTP statuses, and
// the Management contract a herder fulfils. It imports only the standard library, so the
// admin client (and the CLI built on it) links neither the engine nor the RocketMQ client.
//
// JSON field names follow Kafka Connect's REST API; changing one is a breaking change of the
// REST contract.
package restapi
