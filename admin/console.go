package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/admin/ui"
)

// consoleRoutes serves the web console (package ui) at /ui/. Being routes of the engine, they
// sit behind everything Handler wraps the engine in: the Host/Origin guard, CORS, basic auth
// and TLS apply to the console exactly as to the API it calls.
func (s *Server) consoleRoutes() {
	h := gin.WrapH(ui.Handler())
	s.engine.GET(ui.Prefix+"*file", h)
	s.engine.HEAD(ui.Prefix+"*file", h)
	s.engine.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, ui.Prefix) })
}
