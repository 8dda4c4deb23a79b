// Package kafkatest gives tests a real Apache Kafka broker (KRaft mode) on loopback. Shared(t) returns the
// broker of the test run: started once by distribution/bin/kafka-local.sh on ports 29192/29193 and a
// throwaway data directory (RMQ_TEST_KAFKA_DIR overrides it), with a SASL_PLAINTEXT listener (29194:
// PLAIN and SCRAM) and an SSL listener (29195, a throwaway CA), or the existing broker named by
// RMQ_TEST_KAFKA_BROKERS (then nothing is started). Own(t) starts a private broker that the test may stop
// and start again (fault tests); it is stopped when the test ends.
//
// Invariants: a shared broker is started only by the first test that needs it; every test process using it
// holds a shared lock on a users file, and a watcher left by kafka-local.sh stops it once the last holder
// has exited, however it ended. Kafka tests are skipped under -short and fail (never skip) when no broker
// can be had.
package kafkatest
