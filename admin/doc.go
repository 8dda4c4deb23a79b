// Package admin is the worker's REST server (gin is imported here and nowhere else) and,
// later, the client library the connectAdmin CLI uses. Errors are mapped to HTTP statuses
// in one place; routes depend on the worker through small interfaces declared here.
package admin
