package conf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadConnector(t *testing.T) {
	for name, body := range map[string]string{
		"c.json":       `{"name":"src","config":{"connector.class":"file-source","max.tasks":1,"enabled":true}}`,
		"flat.json":    `{"name":"src","connector.class":"file-source","max.tasks":"1","enabled":"true"}`,
		"c.properties": "name=src\nconnector.class=file-source\nmax.tasks=1\nenabled=true\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := LoadConnector(write(t, name, body))
			require.NoError(t, err)
			require.Equal(t, "src", c.Name)
			require.Equal(t, "file-source", c.Config["connector.class"])
			require.Equal(t, "1", c.Config["max.tasks"])
			require.Equal(t, "true", c.Config["enabled"])
		})
	}
	for name, body := range map[string]string{
		"noname.json":  `{"config":{"connector.class":"x"}}`,
		"nested.json":  `{"name":"a","config":{"x":{"y":1}}}`,
		"broken.json":  `{"name":`,
		"c.yaml":       "name: a",
		"nullval.json": `{"name":"a","x":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConnector(write(t, name, body))
			require.Error(t, err)
		})
	}
}

func TestLoadConnectorKeepsPlaceholders(t *testing.T) {
	c, err := LoadConnector(write(t, "c.properties", "name=a\npassword=${env:DB_PASSWORD}\nuser=${file:/etc/secrets.properties:user}\n"))
	require.NoError(t, err)
	require.Equal(t, "${env:DB_PASSWORD}", c.Config["password"])
	require.Equal(t, "${file:/etc/secrets.properties:user}", c.Config["user"])
}
