// Package kafka holds kafka-source and kafka-sink, the bridges between Apache Kafka and RocketMQ, built on
// franz-go (imported here and nowhere else).
//
// kafka-source reads the topics named by kafka.topics (or matching kafka.topics.regex) and writes each
// record to a RocketMQ topic (topic.rename.format): key and value as bytes, the record's timestamp, and
// its headers as message properties (headers.go says how binary values and reserved names travel). The
// connector splits the partitions over its tasks and lists the topics every topics.refresh.interval;
// each task reads its partitions from the engine's committed positions ({kafka.topic, kafka.partition}
// → {offset, kafka.topic.id}) and commits nothing to Kafka, so after any restart it resumes after the last
// record RocketMQ acknowledged. A position applies only to the topic it was taken from: once a topic is
// deleted and created again under its name (another topic id), its partitions start as if they had no
// position, with a warning. A topic of kafka.topics that disappears gives a FAILED status naming it; with
// kafka.topics.regex it is dropped, and a matching topic that cannot have a RocketMQ topic of its own is
// left out with a warning.
//
// kafka-sink writes records with franz-go's idempotent producer (acks=all, unlimited retries), so per partition the order of Put is the order in Kafka and a retry never
// duplicates a record. Flush returns only once Kafka acknowledged every record put before it: the
// engine commits RocketMQ offsets only for records that are in Kafka. A record too large for its topic
// (or otherwise refused for itself) goes to the engine's error policy alone: the good records Kafka
// refused with it, as it refuses a whole batch, are written again one at a time, in order.
package kafka
