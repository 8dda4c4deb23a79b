package rmqclient

import "errors"

var (
	// ErrNoNameServer means the configuration named no name server.
	ErrNoNameServer = errors.New("no name server configured")
	// ErrUnreachable means no name server or broker answered within the deadline.
	ErrUnreachable = errors.New("rocketmq unreachable")
	// ErrNoRoute means the name servers have no route for a topic (or none with the queues
	// asked for): one that knows brokers said so and none routed it.
	ErrNoRoute = errors.New("topic has no route")
	// ErrSend means the broker did not accept a message.
	ErrSend = errors.New("send failed")
	// ErrClosed means the producer or consumer was already closed.
	ErrClosed = errors.New("closed")
	// ErrInvalid means an argument was rejected before reaching the broker.
	ErrInvalid = errors.New("invalid argument")
	// ErrAccessDenied means a broker's ACL refused this client's credentials (none, an
	// unknown access key or a wrong secret key).
	ErrAccessDenied = errors.New("access denied by the broker")
	// ErrTooLarge means a message is larger than the broker takes (MaxMessageBytes); it is
	// refused before the send and never worth retrying.
	ErrTooLarge = errors.New("message too large")
	// ErrUndecodable means a stored message cannot be decoded (a compression this client does
	// not know, a corrupt body); see UndecodableError. Pulling it again gives the same error.
	ErrUndecodable = errors.New("stored message cannot be decoded")
)
