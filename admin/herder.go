package admin

import (
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Herder is what the connector routes need from the worker that manages connectors: the
// standalone or the distributed herder. It is restapi.Management itself, the one contract of the
// management API, so a herder, the admin server and the fake in admintest cannot drift apart.
//
// What admin relies on beyond the method list: every method is called with the request's
// context and must be safe for concurrent use; errors wrap restapi's sentinels (ErrNotFound,
// ErrAlreadyExists, ...) or are config errors (*cfgerr.Error), which httpStatus turns into HTTP statuses. Plugins
// returns all plugins (sources and sinks, then transforms, predicates and converters); the
// routes filter the list. Optional abilities (DLQ, offsets, validation, topics, patch, ...) are
// the smaller interfaces declared next to their routes; New serves a route group only when the
// herder has that ability.
type Herder = restapi.Management
