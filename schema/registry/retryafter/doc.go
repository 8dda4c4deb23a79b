// Package retryafter reads the Retry-After header of an HTTP answer (RFC 9110 §10.2.3) into how long to wait.
// It never returns a negative duration, and it does not cap: each client bounds the wait it is willing to honour.
package retryafter
