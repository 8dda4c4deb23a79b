// Package clienttest is a fake worker for tests of code built on package client: connectors
// held in memory, served over httptest with the Kafka Connect routes' paths, status codes, JSON
// shapes and {"error_code", "message"} error bodies, plus RocketMQ Connect's /getClusterInfo.
//
// Worker also has the method set of admin.Herder, so the real admin server can serve the same
// state; the client's tests run against both to keep this fake faithful.
package clienttest
