package kafka

import "errors"

// Sentinel errors of the Kafka connectors. Match them with errors.Is.
var (
	// ErrNotStarted is returned by Poll, Put and Flush on a task whose Start did not succeed.
	ErrNotStarted = errors.New("task not started")
	// ErrTopicMissing means a Kafka topic the configuration names (kafka.topics) does not exist.
	ErrTopicMissing = errors.New("kafka topic does not exist")
	// ErrTopicDeleted means a Kafka topic a source task was reading was deleted while it ran.
	ErrTopicDeleted = errors.New("kafka topic was deleted")
	// ErrTopicCollision means two Kafka topics map to the same RocketMQ topic (or the reverse for the sink).
	ErrTopicCollision = errors.New("two topics map to one target topic")
	// ErrProduce means Kafka refused records for a reason that is not the record's own (authorization, a
	// topic that does not exist, …): the sink task fails instead of dropping them.
	ErrProduce = errors.New("kafka refused the records")
	// ErrEmptyTopic means a sink record has no Kafka topic: kafka.topic is empty and topic.rename.format
	// makes an empty name of the record's RocketMQ topic.
	ErrEmptyTopic = errors.New("record has no kafka topic")
	// ErrBadHeader means a record header cannot be mapped (a binary-header list that does not decode).
	ErrBadHeader = errors.New("header cannot be mapped")
	// ErrUnauthorized means Kafka refused the connector's credentials (SASL authentication failed) or a
	// permission it needs (topic or cluster authorization): retrying cannot get past it, so the task or
	// connector fails with the cause instead of idling.
	ErrUnauthorized = errors.New("kafka refused access")
	// ErrBadTaskConfig means a task configuration was not produced by this connector's TaskConfigs.
	ErrBadTaskConfig = errors.New("bad task configuration")
)
