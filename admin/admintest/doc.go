// Package admintest is the one fake herder for tests of the admin REST server and of code
// built on its client: Herder keeps connectors in memory and implements restapi.Management and
// admin.HealthChecker, so tests serve it through the real admin server (admin.NewServer and
// httptest, or Serve below) rather than through a hand-written copy of the routes. It imports
// only the standard library and worker/restapi, so admin's own tests can use it too.
package admintest
