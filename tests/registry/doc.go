// Package registry holds the integration tests of the schema registry server backed by RocketMQ: the REST flows,
// several instances sharing one store topic, replay after a restart, and Avro records flowing from a source to a
// sink through a real worker with the registry resolving their schemas.
package registry
