package schema_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

func Example() {
	address := schema.StructBuilder().Name("com.example.Address").
		Field("street", schema.StringSchema).
		Field("zip", schema.OptionalStringSchema).
		MustBuild()
	user := schema.StructBuilder().Name("com.example.User").
		Field("id", schema.Int64Schema).
		Field("balance", schema.DecimalSchema(2)).
		Field("born", schema.DateSchema()).
		Field("address", address).
		MustBuild()

	u := schema.NewStruct(user).
		MustPut("id", int64(42)).
		MustPut("balance", schema.NewDecimal(1999, 2)).
		MustPut("born", time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC))

	// A nested value is checked against its schema, and the error names the path.
	_, err := u.Put("address", schema.NewStruct(address))
	fmt.Println(errors.Is(err, schema.ErrNullValue), err)

	u.MustPut("address", schema.NewStruct(address).MustPut("street", "1 Main St"))
	fmt.Println(u.Validate())

	r := schema.NewRecord("users", schema.Int64Schema, int64(42), user, u)
	r.Headers.Add("source", schema.StringSchema, "crm")
	fmt.Println(r.Topic, r.QueueID, r.Value)
	// Output:
	// true field "address.street": Schema{:string}: null value for required field
	// <nil>
	// users -1 Struct{id=42,balance=19.99,born=1990-04-01 00:00:00 +0000 UTC,address=Struct{street=1 Main St}}
}
