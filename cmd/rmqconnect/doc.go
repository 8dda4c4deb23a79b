// Command rmqconnect runs a Connect worker for Apache RocketMQ.
package main
