// Package clustertest runs real `rmqconnect` worker processes for the multi-process tests:
// it builds the binary once, writes each worker's config, starts, signals and stops the
// processes, and reads units' states through their REST API. A Cluster's workers share
// store topics of their own, so clusters of different tests never see each other.
package clustertest
