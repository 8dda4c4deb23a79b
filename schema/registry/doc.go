// Package registry is a client for the Apache RocketMQ Schema Registry REST API (rocketmq-schema-registry,
// prefix /schema-registry/v1), with caches by record id and by schema, per-attempt timeouts, and retries with
// exponential backoff on transport errors, 5xx, 408 and 429 answers (a Retry-After is honoured when it ends within
// the call's time). Every call ends within Config.MaxElapsed (30s) or its ctx's deadline; one still failing then
// gives an error wrapping ErrUnavailable. Other 4xx answers are never retried; they come back as *APIError,
// matched with errors.Is against ErrNotFound, ErrConflict, ErrBadRequest or ErrUnauthorized, and carry the
// server's reason.
//
// Routes, with B = /schema-registry/v1/cluster/{cluster}/tenant/{tenant} (Config.Cluster and Config.Tenant,
// "default" when unset) and every path segment escaped:
//
//	POST   B/subject/{s}/schema/{name}         register the first version   RegisterRequest  → Registered (201)
//	PUT    B/subject/{s}/schema/{name}         new version of the schema    UpdateRequest    → Registered
//	GET    B/subject/{s}/schema                latest version                                → SchemaRecord
//	GET    B/subject/{s}/schema/versions/{v}   one version                                   → SchemaRecord
//	GET    B/subject/{s}/schema/versions       every version, oldest first                   → [SchemaRecord]
//	GET    B/subject/{s}/recordId/{id}/schema  the version with that record id               → SchemaRecord
//	GET    B/subjects                          subject names                                 → ["s", ...]
//	DELETE B/subject/{s}/schema                every version of the subject
//	DELETE B/subject/{s}/schema/versions/{v}   one version
//
// JSON shapes (the Java registry's DTOs; unknown members are ignored):
//
//	RegisterRequest  {"schemaIdl": "<avro json>", "schemaType": "AVRO", "compatibility": "BACKWARD", "owner": "", "desc": ""}
//	UpdateRequest    {"schemaIdl": "<avro json>", "owner": "", "desc": ""}
//	Registered       {"recordId": 123, "version": 2}
//	SchemaRecord     {"subjectFullName": "...", "schemaFullName": "...", "schemaId": 1, "recordId": 123, "version": 2,
//	                  "idl": "<avro json>", "type": "AVRO"}   ("schema" is accepted for "schemaFullName")
//	error            {"message": "..."} (also Spring's {"status":..,"error":..,"message":..}, or a plain-text body)
//
// Status codes: 404 subject, version or record id unknown; 409 schema incompatible with the subject's
// compatibility mode (the message says why) or already registered; 400/422 malformed schema or request.
//
// Register and Update are retried like the rest: a server that stored the schema before the connection failed
// answers the retry with a 409 or a new identical version, and Ensure copes with both (it looks the schema up
// before registering, and again after a 409).
//
// A record id identifies one version of one subject's schema and never changes meaning, so lookups by id are
// cached without expiry; "latest" is never cached here.
package registry
