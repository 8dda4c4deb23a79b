package plugins_test

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
)

func ExampleConfigSpec() {
	spec := plugins.MustConfigSpec(
		plugins.Field{Name: "max.tasks", Type: plugins.TypeInt, Default: 1, Aliases: []string{"tasks.max"},
			Validators: []plugins.Validator{plugins.Between(1, 64)}, Doc: "Upper bound on tasks."},
		plugins.Field{Name: "db.password", Type: plugins.TypePassword, Required: true},
	)
	vals, err := spec.Parse(map[string]string{"tasks.max": "4", "db.password": "pw"})
	fmt.Println(vals.Int("max.tasks"), vals.Password("db.password"), err)

	_, err = spec.Parse(map[string]string{"max.tasks": "100"})
	fmt.Println(err)
	fmt.Print(spec.Markdown())
	// Output:
	// 4 [hidden] <nil>
	// db.password: missing required configuration; max.tasks: must be between 1 and 64 (value "100")
	// | Key | Type | Default | Required | Valid values | Description |
	// |---|---|---|---|---|---|
	// | `max.tasks` | INT | `1` | no | [1, ..., 64] | Upper bound on tasks. Aliases: `tasks.max`. |
	// | `db.password` | PASSWORD |  | yes |  |  |
}
