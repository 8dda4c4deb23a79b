// Package registrytest is an in-memory fake of the Apache RocketMQ Schema Registry REST API, with the routes and
// JSON shapes documented in package registry, for tests: subjects per cluster and tenant, versions, record ids,
// Avro compatibility enforced per subject (409 with the reason), and injected failures.
package registrytest
