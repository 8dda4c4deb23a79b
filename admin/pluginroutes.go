package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// PluginReloader rescans the worker's pluginPaths (GET /plugin/reload). It returns each
// binary it refused as "path: reason"; an error means the rescan failed as a whole.
type PluginReloader interface {
	ReloadPlugins(ctx context.Context) (refused []string, err error)
}

// EnablePluginReload serves RocketMQ Connect's GET /plugin/reload (and POST, for clients
// that prefer it) with r. Running connectors and tasks are untouched by a reload. Call it
// before Run.
func (s *Server) EnablePluginReload(r PluginReloader) {
	h := func(c *gin.Context) {
		if s.guard.CrossSite(c.Request) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"errorCode": http.StatusForbidden,
				"message": "cross-site request refused: a page of another site may not reload plugins"})
			return
		}
		refused, err := r.ReloadPlugins(c.Request.Context())
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		if len(refused) == 0 {
			rmqOK(c, "Plugin reload succeeded")
			return
		}
		rmqOK(c, fmt.Sprintf("Plugin reload succeeded; %d refused: %s", len(refused), strings.Join(refused, "; ")))
	}
	s.engine.GET("/plugin/reload", h)
	s.engine.POST("/plugin/reload", h)
}

// rmqPluginConfigRoutes serves RocketMQ Connect's /plugin/config and /plugin/config/validate
// (stubs in the Java runtime) in its {status, body} envelope: the plugin is named by the
// query parameter plugin (or className); validate takes the config as a JSON object in the
// query parameter config (GET) or the body (POST, PUT).
func (s *Server) rmqPluginConfigRoutes(h PluginConfigHerder) {
	plugin := func(c *gin.Context) (string, bool) {
		p := c.Query("plugin")
		if p == "" {
			p = c.Query("className")
		}
		if p == "" {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"errorCode": http.StatusBadRequest,
				"message": "query parameter plugin (or className) is required"})
			return "", false
		}
		return p, true
	}
	s.engine.GET("/plugin/config", func(c *gin.Context) {
		p, ok := plugin(c)
		if !ok {
			return
		}
		defs, err := h.PluginConfig(c.Request.Context(), p)
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		rmqOK(c, defs)
	})
	validate := func(c *gin.Context) {
		p, ok := plugin(c)
		if !ok {
			return
		}
		var body []byte
		if c.Request.Method == http.MethodGet {
			body = []byte(c.Query("config"))
			if len(body) == 0 {
				body = []byte("{}")
			}
		} else {
			var err error
			if body, err = readBody(c); err != nil {
				s.rmqFail(c, err)
				return
			}
		}
		cfg, err := decodeConfig(body, "config")
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		res, err := h.ValidateConfig(c.Request.Context(), p, cfg)
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		rmqOK(c, res)
	}
	s.engine.GET("/plugin/config/validate", validate)
	s.engine.POST("/plugin/config/validate", validate)
	s.engine.PUT("/plugin/config/validate", validate)
}
