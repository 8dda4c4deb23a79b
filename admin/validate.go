package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// PluginConfigHerder is the optional ability to describe and validate plugin configs.
// When the herder implements it, NewServer serves GET /connector-plugins/{plugin}/config
// and PUT /connector-plugins/{plugin}/config/validate.
type PluginConfigHerder interface {
	PluginConfig(ctx context.Context, plugin string) ([]restapi.ConfigDefinition, error)
	ValidateConfig(ctx context.Context, plugin string, cfg map[string]string) (restapi.ConfigInfos, error)
}

func (s *Server) pluginConfigRoutes(h PluginConfigHerder) {
	s.rmqPluginConfigRoutes(h)
	e := s.engine
	e.GET("/connector-plugins/:plugin/config", func(c *gin.Context) {
		defs, err := h.PluginConfig(c.Request.Context(), c.Param("plugin"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, defs)
	})
	e.PUT("/connector-plugins/:plugin/config/validate", func(c *gin.Context) {
		body, err := readBody(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		cfg, err := decodeConfig(body, "config")
		if err != nil {
			s.fail(c, err)
			return
		}
		res, err := h.ValidateConfig(c.Request.Context(), c.Param("plugin"), cfg)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
}

// PATCH /connectors/{name}/config: merge the body into the current config; a null value
// removes the key. Answers 200 with the connector's info, like PUT.
func (s *Server) patchConnectorConfig(c *gin.Context) {
	name := c.Param("name")
	body, err := readBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	obj, err := decodeObject(body, "config")
	if err != nil {
		s.fail(c, err)
		return
	}
	var remove []string
	set := map[string]jsonRaw{}
	for k, v := range obj {
		if string(bytes.TrimSpace(v)) == "null" {
			if k == "name" {
				// Every stored config carries the connector's name (withName), as Kafka Connect
				// requires it; a merge that removed it would store a config without it.
				s.fail(c, badRequestf("config.name: null is not allowed; the connector's name cannot be removed"))
				return
			}
			remove = append(remove, k)
			continue
		}
		set[k] = jsonRaw(v)
	}
	updates := map[string]string{}
	if len(set) > 0 {
		enc, err := encodeObject(set)
		if err != nil {
			s.fail(c, err)
			return
		}
		if updates, err = decodeConfig(enc, "config"); err != nil {
			s.fail(c, err)
			return
		}
	}
	var newInfo restapi.ConnectorInfo
	if p, ok := s.herder.(ConfigPatcher); ok {
		newInfo, err = p.PatchConnectorConfig(c.Request.Context(), name, updates, remove)
	} else {
		// Without the ability, merge into the shown config (fine when nothing is masked).
		var info restapi.ConnectorInfo
		if info, err = s.herder.ConnectorInfo(c.Request.Context(), name); err == nil {
			cfg := make(map[string]string, len(info.Config))
			for k, v := range info.Config {
				cfg[k] = v
			}
			for _, k := range remove {
				delete(cfg, k)
			}
			for k, v := range updates {
				cfg[k] = v
			}
			newInfo, _, err = s.herder.PutConnectorConfig(c.Request.Context(), name, cfg)
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, kafkaInfo(newInfo))
}

// ConfigPatcher is the optional ability to merge into a connector's stored config (with
// its placeholders and secrets, which the shown config masks).
type ConfigPatcher interface {
	PatchConnectorConfig(ctx context.Context, name string, set map[string]string, remove []string) (restapi.ConnectorInfo, error)
}

type jsonRaw []byte

// encodeObject re-encodes raw members as one object so decodeConfig can check them.
func encodeObject(m map[string]jsonRaw) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	i := 0
	for _, k := range sortedKeysRaw(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := jsonMarshalString(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
		i++
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func sortedKeysRaw(m map[string]jsonRaw) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func sortStrings(s []string) { sort.Strings(s) }

func jsonMarshalString(s string) ([]byte, error) { return json.Marshal(s) }
