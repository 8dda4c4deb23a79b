package converter_test

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

func ExampleFromConfig() {
	cfg := map[string]string{
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
	}
	c, err := converter.FromConfig(cfg, "value.converter", false)
	if err != nil {
		panic(err)
	}
	s := schema.StructBuilder().Name("Row").Field("id", schema.Int32Schema).Field("name", schema.OptionalStringSchema).MustBuild()
	b, _ := c.FromConnect("topic", s, schema.NewStruct(s).MustPut("id", int32(1)))
	fmt.Println(string(b))

	_, v, _ := c.ToConnect("topic", b)
	fmt.Println(v)

	_, _, err = c.ToConnect("topic", []byte(`{"schema":{"type":"int8"},"payload":300}`))
	fmt.Println(err)
	// Output:
	// {"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false,"name":"Row"},"payload":{"id":1,"name":null}}
	// Struct{id=1}
	// json converter: decode payload: 300 is not a valid int8: invalid value
}
