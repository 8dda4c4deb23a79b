package restapi

import (
	"encoding/json"
	"time"
)

// DLQRecord is one dead-letter queue message with its decoded error context.
type DLQRecord struct {
	// ID is "<broker>:<queue>:<offset>" in the DLQ topic: the broker holding the record's
	// queue, the queue's id there and the record's offset in it (split at the last two
	// colons). Stable, usable as ?after= and in replay; the form of earlier releases,
	// "<queue>-<offset>", is taken too while one broker holds queue <queue>.
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
	// At is when the latest replay of its run of consecutive records began (the replay that
	// sent it, or a later one that sent the records next to it).
	At time.Time `json:"at"`
	// MsgID is the id of the message sent, known for the latest 1000 replays.
	MsgID string `json:"msg_id,omitempty"`
}

// DLQPage is one page of a DLQ listing; Next is the ?after= value for the next page.
type DLQPage struct {
	Topic   string      `json:"dlq_topic"`
	Records []DLQRecord `json:"records"`
	Next    string      `json:"next,omitempty"`
}

// DLQReplayRequest is the body of POST /connectors/{name}/dlq/replay. It names the records
// either by IDs or, with All, as every record the DLQ holds, and never both: an empty IDs
// list is refused, so a selection or filter that came out empty cannot pass for every record.
type DLQReplayRequest struct {
	// IDs are the records to replay (DLQRecord.ID); when present, at least one.
	IDs []string `json:"ids,omitempty"`
	// All replays every record the DLQ holds when the replay begins; only without IDs.
	All bool `json:"all,omitempty"`
	// Force sends again records replayed before.
	Force bool `json:"force,omitempty"`
}

// DLQReplayResult reports a replay: each record it was asked for (every record the DLQ
// held when it began, with all) is in one of its lists, by id.
type DLQReplayResult struct {
	// Replayed lists the records sent.
	Replayed []string `json:"replayed"`
	// Skipped lists records already replayed earlier (use force to send them again).
	Skipped []string `json:"skipped"`
	// InProgress lists records another replay, in a cluster, has taken and not finished:
	// that replay sends them, this one did not.
	InProgress []DLQInProgress `json:"in_progress"`
	// Refused lists records that must not be replayed, with the reason.
	Refused []DLQRefusal `json:"refused"`
}

// MarshalJSON writes an empty list as [], never null: every list is always there.
func (r DLQReplayResult) MarshalJSON() ([]byte, error) {
	type plain DLQReplayResult
	p := plain(r)
	if p.Replayed == nil {
		p.Replayed = []string{}
	}
	if p.Skipped == nil {
		p.Skipped = []string{}
	}
	if p.InProgress == nil {
		p.InProgress = []DLQInProgress{}
	}
	if p.Refused == nil {
		p.Refused = []DLQRefusal{}
	}
	return json.Marshal(p)
}

// DLQInProgress is a DLQ record a replay left to the replay of it in progress.
type DLQInProgress struct {
	ID string `json:"id"`
	// Worker is the worker replaying it ("" when that replay did not say).
	Worker string `json:"worker,omitempty"`
	// Since is when that replay took it.
	Since time.Time `json:"since"`
	// Reason says when it may be replayed again.
	Reason string `json:"reason"`
}

// DLQRefusal is a DLQ record a replay did not send, and why: Code says it for programs,
// Reason for people.
type DLQRefusal struct {
	ID     string         `json:"id"`
	Code   DLQRefusalCode `json:"code"`
	Reason string         `json:"reason"`
}

// DLQRefusalCode is why a replay refused a record; the codes are part of the REST contract
// (admin/openapi.json lists each, and a test fails for one it does not).
type DLQRefusalCode string

// The reasons a replay refuses a record.
const (
	// RefusedNoTopic: the record does not name its original topic.
	RefusedNoTopic DLQRefusalCode = "no_topic"
	// RefusedForeignTopic: its original topic is not one the connector consumes
	// (connect.topicnames); a replay writes only to those.
	RefusedForeignTopic DLQRefusalCode = "foreign_topic"
	// RefusedBodyTruncated: the DLQ kept only the first part of its body.
	RefusedBodyTruncated DLQRefusalCode = "body_truncated"
	// RefusedPropertiesTruncated: the DLQ could not keep its own properties and keys.
	RefusedPropertiesTruncated DLQRefusalCode = "properties_truncated"
	// RefusedBodyRendered: the DLQ holds the sink task's rendering of it, not its bytes.
	RefusedBodyRendered DLQRefusalCode = "body_rendered"
	// RefusedBodyUndecodable: the DLQ holds its stored bytes, which could not be decoded.
	RefusedBodyUndecodable DLQRefusalCode = "body_undecodable"
	// RefusedGone: the broker's retention deleted it after the replay began.
	RefusedGone DLQRefusalCode = "gone"
)
