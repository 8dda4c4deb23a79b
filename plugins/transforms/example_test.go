package transforms_test

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
)

func ExampleParseChain() {
	cfg := map[string]string{
		"transforms":                   "route,drop",
		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       "(.*)-raw",
		"transforms.route.replacement": "$1",
		"transforms.drop.type":         "Filter",
		"transforms.drop.predicate":    "tombstone",
		"predicates":                   "tombstone",
		"predicates.tombstone.type":    "RecordIsTombstone",
	}
	chain, err := transforms.ParseChain(cfg, transforms.Builtins())
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := chain.Apply(schema.NewRecord("orders-raw", nil, nil, schema.StringSchema, "hello"))
	fmt.Println(out.Topic, out.Value)
	out, _ = chain.Apply(schema.NewRecord("orders-raw", nil, "k", nil, nil))
	fmt.Println(out == nil)

	_, err = transforms.ParseChain(map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"}, nil)
	fmt.Println(err)
	// Output:
	// orders hello
	// true
	// transforms.a.regex: invalid regular expression: error parsing regexp: missing closing ): `(` (value "(")
}
