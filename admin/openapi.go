package admin

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDoc describes every route the server can register. openapi_test.go fails when a
// registered route is missing from it or it lists a route that is not registered, so a change
// of routes comes with its change here.
//
//go:embed openapi.json
var openAPIDoc []byte

// EnableOpenAPI serves the OpenAPI 3.0 document of this API at GET /openapi.json. Call it
// before Run.
func (s *Server) EnableOpenAPI() {
	s.engine.GET("/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIDoc)
	})
}
