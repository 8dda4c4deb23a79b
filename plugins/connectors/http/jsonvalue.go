package httpconn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/schema"
)

// decodeJSON turns one JSON document into a schemaless Connect value, as the JSON converter does with schemas
// off (objects map[string]any, arrays []any, strings, booleans, nil) but keeping every number exact, so the
// JSON converter writes the same numbers back: an integer within int64 is an int64; a number with a fraction or
// an exponent is a float64 when a float64 holds it exactly (19.90, 0.5, 1e3); any other number (an integer
// beyond int64, more digits than a float64 has, beyond its range) is a schema.Decimal of its digits.
func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return exactNumbers(v)
}

// exactNumbers replaces the json.Numbers of v, in place.
func exactNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return numberValue(string(x))
	case map[string]any:
		for k, e := range x {
			n, err := exactNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := exactNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// numberValue is the int64, float64 or schema.Decimal of a JSON number (see decodeJSON).
func numberValue(n string) (any, error) {
	if i, err := strconv.ParseInt(n, 10, 64); err == nil {
		return i, nil
	}
	if strings.ContainsAny(n, ".eE") {
		if f, err := strconv.ParseFloat(n, 64); err == nil && sameNumber(n, strconv.FormatFloat(f, 'e', -1, 64)) {
			return f, nil
		}
	}
	d, err := schema.ParseDecimal(n)
	if err != nil {
		return nil, fmt.Errorf("number %.40s: %w", n, err)
	}
	return d, nil
}

// sameNumber reports whether two decimal numbers in JSON or strconv 'e' form are equal, comparing their
// significant digits and the power of ten of the last one, without expanding an exponent.
func sameNumber(a, b string) bool {
	an, ad, ae, aok := significant(a)
	bn, bd, be, bok := significant(b)
	return aok && bok && an == bn && ad == bd && ae == be
}

// significant returns the sign, the digits without leading or trailing zeros (zero is "" and positive) and the
// power of ten of the last digit of a decimal number such as -12.50e3 (true, "125", 2).
func significant(s string) (neg bool, digits string, exp int64, ok bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil || e > 1<<40 || e < -(1<<40) { // far beyond any float64; bounded so exp cannot overflow
			return false, "", 0, false
		}
		exp, s = e, s[:i]
	}
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	exp -= int64(len(frac))
	digits = strings.TrimLeft(whole+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	if trimmed == "" {
		return false, "", 0, true
	}
	return neg, trimmed, exp, true
}
