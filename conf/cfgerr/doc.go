// Package cfgerr is the one error type for a rejected configuration key, returned by every
// layer that checks a configuration: the worker config (conf), config providers
// (conf/providers), converters (schema/converter), connector specs, transforms and connectors
// (plugins), and the engine's connector-config validation (worker). Because all of them return
// *Error, errors.As finds the key and the reason across layers: the REST server answers 400
// naming it, the CLI prints it.
//
// It imports the standard library only, so any package, including the dependency-free ones
// (schema, worker/restapi's clients), may use it.
package cfgerr
