// Package faults is the fault suite: a cluster of worker processes, each in a network
// namespace of its own (its own address, as on separate hosts), runs a verifiable workload —
// generator sources emitting sequence-numbered records per key into file sinks — while the
// tests bounce workers, restart the broker and the name server, cut workers off the network,
// fill disks and suspend processes. Every scenario counts the records sent, lost, duplicated
// and out of order per key, and the longest time a unit was not RUNNING; -faults.report
// writes them as RELIABILITY.md. It needs root (namespaces, nftables, tmpfs) and starts a
// RocketMQ of its own (name server 26876, broker 26911) on the namespaces' bridge address.
package faults
