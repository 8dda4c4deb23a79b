package restapi

import "time"

// DLQRecord is one dead-letter queue message with its decoded error context.
type DLQRecord struct {
	// ID is "<queue>-<offset>" in the DLQ topic; stable, usable as ?after= and in replay.
	ID               string            `json:"id"`
	Topic            string            `json:"topic"`
	Partition        string            `json:"partition"`
	Offset           string            `json:"offset"`
	Connector        string            `json:"connector"`
	Task             string            `json:"task"`
	Stage            string            `json:"stage"`
	ClassName        string            `json:"class_name"`
	ExceptionClass   string            `json:"exception_class"`
	ExceptionMessage string            `json:"exception_message"`
	Stacktrace       string            `json:"stacktrace,omitempty"`
	Time             time.Time         `json:"time"`
	Keys             []string          `json:"keys,omitempty"`
	Properties       map[string]string `json:"properties,omitempty"`
	BodySize         int               `json:"body_size"`
	BodyPreview      string            `json:"body_preview"`
	Body             []byte            `json:"body,omitempty"`
	Replayed         *ReplayInfo       `json:"replayed,omitempty"`
}

// ReplayInfo says when a DLQ record was re-sent and where it landed.
type ReplayInfo struct {
	At    time.Time `json:"at"`
	MsgID string    `json:"msg_id"`
}

// DLQPage is one page of a DLQ listing; Next is the ?after= value for the next page.
type DLQPage struct {
	Topic   string      `json:"dlq_topic"`
	Records []DLQRecord `json:"records"`
	Next    string      `json:"next,omitempty"`
}

// DLQReplayResult reports a replay.
type DLQReplayResult struct {
	Replayed []string `json:"replayed"`
	// Skipped lists records already replayed earlier (use force to send them again).
	Skipped []string `json:"skipped"`
	// Refused lists records that were not sent, with the reason: their original topic is not
	// one the connector consumes, is unknown, or the DLQ kept only part of the body.
	Refused []DLQRefusal `json:"refused"`
}

// DLQRefusal is a DLQ record a replay did not send, and why.
type DLQRefusal struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}
