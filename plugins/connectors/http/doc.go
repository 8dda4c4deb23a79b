// Package httpconn holds the HTTP connectors, built on the standard library's net/http only.
//
// http-sink sends each record (or a batch of records: a JSON array, or NDJSON with one line per record) to a
// URL whose method, URL and headers are templates over the record (a URL path segment rendering empty, "." or
// ".." makes the record errant: it would name another resource). A record is done only once the server answered
// 2xx, or 303 See Other to a request other than GET or HEAD (the request was carried out; not followed): Flush
// returns after every request of the records put so far has succeeded or failed for good.
// Only an answer about the request's content blames the records: a 4xx other than 401, 403, 404, 405, 407,
// 408, 429 and 413 goes to the engine's error policy (the errant-record reporter: DLQ or task failure) with
// the status and an excerpt of the response, and so does a single record answered 413 (a batch answered 413
// is split in halves) and, without retries, any status listed in record.error.statuses (with a templated URL
// a 404 may be about the record: it names what does not exist); every record of a batch shares its answer.
// Connection errors, timeouts, and 401, 403, 404, 405, 407, 408, 429 and 5xx unless listed there, are
// retried with exponential backoff and jitter (honouring Retry-After), then fail the task; a redirect is
// followed only when it keeps scheme, host, method and body (307, 308), any other fails the task. Errors
// never show a URL's password. Memory is bounded: at most max.concurrent.requests requests are in flight, at
// most one more sealed batch waits per sender, and a response body is read to a fixed excerpt.
//
// http-source either polls a URL on an interval (records from the body or from the elements of a JSON array at a
// path; pagination by cursor or next link; a position so that a restart continues) or serves an endpoint
// (mode=listen): the task owns an HTTP listener at listen.address and answers 2xx only after every record of
// a request was acknowledged by RocketMQ (plugins.RecordCommitter); it holds at most listen.queue.size request
// bodies. A listener is owned by the task, not by the worker's admin server, so it runs wherever the task is
// placed; the connector therefore runs one task only. When a poll's requests use ${position}, the pages of one
// run share the position it began with, and a run whose position moved is followed by a new run from the
// first page.
//
// Besides the engine's per-task metrics (put time, batch sizes, poll counts), both connectors record their
// requests through plugins.Metrics (metrics.go): the worker's /metrics shows them labelled with the task.
package httpconn
