// Package httpconn holds the HTTP connectors, built on the standard library's net/http only.
//
// http-sink sends each record (or a batch of records: a JSON array or NDJSON) to a URL whose method, URL and
// headers are templates over the record. A record is done only once the server answered 2xx: Flush returns
// after every request of the records put so far has succeeded or failed for good. Connection errors, timeouts,
// 408, 429 (honouring Retry-After) and 5xx are retried with exponential backoff and jitter; any other 4xx is the
// record's fault and goes to the engine's error policy (the errant-record reporter: DLQ or task failure) with the
// status and an excerpt of the response. Memory is bounded: at most max.concurrent.requests requests are in
// flight, at most one more sealed batch waits per sender, and a response body is read to a fixed excerpt.
//
// http-source either polls a URL on an interval (records from the body or from the elements of a JSON array at a
// path; pagination by cursor or next link; a position so that a restart continues) or serves an endpoint
// (mode=listen): the task owns an HTTP listener at listen.address and answers 2xx only after every record of
// a request was acknowledged by RocketMQ (plugins.RecordCommitter). A listener is owned by the task, not by the
// worker's admin server, so it runs wherever the task is placed; the connector therefore runs one task only.
//
// The plugin SPI offers no metrics registry, so neither connector exports metrics of its own; the engine's
// per-task metrics (put time, batch sizes, poll counts) cover them.
package httpconn
