package admin

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// TestOpenAPIValidateSchemasMatchTheAnswer: the document's schemas of the validate route's
// answer have the fields the worker answers with, no more and no fewer, and a warning's
// required fields are those it always has.
func TestOpenAPIValidateSchemasMatchTheAnswer(t *testing.T) {
	_, raw := loadOpenAPI(t)
	for name, v := range map[string]any{
		"ConfigInfos":      restapi.ConfigInfos{},
		"ConfigWarning":    restapi.ConfigWarning{},
		"ConfigDefinition": restapi.ConfigDefinition{},
		"ConfigValueInfo":  restapi.ConfigValueInfo{},
	} {
		require.Equal(t, jsonFields(v), propertiesOf(schemaOf(t, raw, name)), "schema %s and %T differ", name, v)
	}
	item, _ := schemaOf(t, raw, "ConfigInfos")["properties"].(map[string]any)["configs"].(map[string]any)["items"].(map[string]any)
	require.Equal(t, jsonFields(restapi.ConfigInfo{}), propertiesOf(item), "ConfigInfos.configs items and restapi.ConfigInfo differ")

	var always []string
	rt := reflect.TypeOf(restapi.ConfigWarning{})
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	var required []string
	for _, r := range schemaOf(t, raw, "ConfigWarning")["required"].([]any) {
		required = append(required, r.(string))
	}
	sort.Strings(always)
	sort.Strings(required)
	require.Equal(t, always, required, "ConfigWarning: required are the fields never omitted")
}
