// Package rmqtest gives tests a real RocketMQ broker. TestMain calls Main, which reuses
// RMQ_NAMESRV when it is set and otherwise starts a name server and broker on loopback with
// distribution/bin/rocketmq-local.sh (test ports 19876/20911 and their own data directory,
// so a development broker is left alone), once for all test processes that run together,
// and stops it when the last of them ends. Tests get unique topic and group names, so
// they never see each other's messages. With -short, broker tests are skipped; without it,
// a broker that cannot start fails the run.
package rmqtest
