// Package server is a schema registry server: an http.Handler serving the Apache RocketMQ Schema Registry REST API
// exactly as package registry documents it (routes, JSON shapes, status codes), with Avro compatibility enforced per
// subject by avro.Check and a 409 that says why a schema is refused.
//
// The state (subjects, versions, record ids) is a deterministic fold of an append-only, totally ordered Log of
// events. A write is checked against the local state, appended, and answered once this instance has applied its
// own event (read-your-writes); the answer is whatever applying the event decided, so two instances replaying the
// same log decide every write the same way. Record ids come from the log position of the event that created the
// version, never from a counter of the proposer, so every instance assigns the same ids; a write that lost a race
// to a conflicting one earlier in the log is refused when applied, on every instance alike.
//
// Invariants: a record id names one version of one subject and is never reused; version numbers of a subject only
// grow (until the subject is deleted); an event the log holds twice (a retried send) is applied once, by its request
// id, within dedupWindow positions; nothing is answered before the log has been replayed up to the moment the
// server started.
package server
