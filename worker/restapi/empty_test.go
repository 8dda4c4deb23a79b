package restapi

import (
	"encoding/json"
	"testing"
)

func TestEmptyEncodesAsEmptyNotNull(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{EmptyList[string](nil), "[]"},
		{EmptyList([]string{"a"}), `["a"]`},
		{EmptyMap(nil), "{}"},
		{EmptyMap(map[string]string{"k": "v"}), `{"k":"v"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("encoded %s (%v), want %s", b, err, tc.want)
		}
	}
}
