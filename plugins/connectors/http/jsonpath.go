package httpconn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// parsePath reads a dotted path: "a.b.0.c", optionally starting with "$" or "$." ("$" alone is the root).
func parsePath(p string) []string {
	p = strings.TrimSpace(p)
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	if p == "" {
		return []string{}
	}
	return strings.Split(p, ".")
}

// rawAt returns the JSON value at path in doc; ok is false when a segment is missing or the document does
// not have that shape. An error means doc is not JSON.
func rawAt(doc []byte, path []string) (json.RawMessage, bool, error) {
	cur := json.RawMessage(bytes.TrimSpace(doc))
	if !json.Valid(cur) {
		return nil, false, fmt.Errorf("%w: not a JSON document", ErrBadResponse)
	}
	for _, seg := range path {
		switch firstByte(cur) {
		case '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(cur, &m); err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrBadResponse, err)
			}
			next, ok := m[seg]
			if !ok {
				return nil, false, nil
			}
			cur = next
		case '[':
			i, err := strconv.Atoi(seg)
			if err != nil {
				return nil, false, nil
			}
			var a []json.RawMessage
			if err := json.Unmarshal(cur, &a); err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrBadResponse, err)
			}
			if i < 0 || i >= len(a) {
				return nil, false, nil
			}
			cur = a[i]
		default:
			return nil, false, nil
		}
	}
	return cur, true, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// arrayAt returns the elements of the JSON array at path.
func arrayAt(doc []byte, path []string) ([]json.RawMessage, error) {
	raw, ok, err := rawAt(doc, path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: nothing at $.%s", ErrBadResponse, strings.Join(path, "."))
	}
	if firstByte(raw) == 'n' { // null: no records
		return nil, nil
	}
	if firstByte(raw) != '[' {
		return nil, fmt.Errorf("%w: $.%s is not an array", ErrBadResponse, strings.Join(path, "."))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return a, nil
}

// scalarAt returns the value at path as text: a JSON string unquoted, null or missing as "", anything else
// as its JSON text (numbers keep their exact digits).
func scalarAt(doc []byte, path []string) (string, error) {
	raw, ok, err := rawAt(doc, path)
	if err != nil || !ok {
		return "", err
	}
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
		return s, nil
	case 'n':
		return "", nil
	}
	return string(bytes.TrimSpace(raw)), nil
}
