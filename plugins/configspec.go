package plugins

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// Type is the type of a configuration field's value.
type Type string

// The field types and the Go type each parses to.
const (
	TypeString   Type = "STRING"   // string
	TypeInt      Type = "INT"      // int (32-bit range, as Kafka's INT)
	TypeLong     Type = "LONG"     // int64
	TypeDouble   Type = "DOUBLE"   // float64
	TypeBoolean  Type = "BOOLEAN"  // bool ("true"/"false", any case)
	TypeList     Type = "LIST"     // []string (comma separated, trimmed, empty items dropped)
	TypePassword Type = "PASSWORD" // Password (always secret)
	TypeDuration Type = "DURATION" // time.Duration (Go syntax "1m30s", or a bare integer of milliseconds)
	TypeClass    Type = "CLASS"    // string naming a plugin (short name or Java class name)
)

// Password is a secret string; it prints as HiddenValue.
type Password string

// String hides the secret.
func (Password) String() string { return HiddenValue }

// Value returns the secret itself.
func (p Password) Value() string { return string(p) }

// Field declares one configuration key.
type Field struct {
	// Name is the dotted key, e.g. "file.path".
	Name string
	Type Type
	// Default is used when the key is absent: either a string (parsed like
	// user input) or a value of the field's Go type. nil means no default.
	Default any
	// Required fields must be present (Default is then ignored).
	Required   bool
	Validators []Validator
	Doc        string
	// Secret masks the value in errors and docs (implied by TypePassword).
	Secret bool
	// Aliases are alternative keys, e.g. Kafka spellings ("tasks.max" for
	// "max.tasks"). The canonical Name wins when both are set to the same value.
	Aliases []string
	// Path marks a STRING field whose value is a file system path the connector
	// opens: the engine refuses a config whose path lies outside the worker's
	// allowed directories (FileAccess), and the connector opens it with OpenFile.
	Path bool
}

func (f *Field) secret() bool { return f.Secret || f.Type == TypePassword }

// ConfigSpec is an ordered set of fields. Build it with NewConfigSpec; it is
// immutable and safe for concurrent use.
type ConfigSpec struct {
	fields   []Field
	defaults map[string]any
}

// NewConfigSpec checks the fields (names and aliases unique, known types,
// defaults that parse and pass the validators) and returns the spec.
func NewConfigSpec(fields ...Field) (*ConfigSpec, error) {
	s := &ConfigSpec{fields: append([]Field(nil), fields...), defaults: map[string]any{}}
	seen := map[string]bool{}
	for i := range s.fields {
		f := &s.fields[i]
		if f.Name == "" {
			return nil, fmt.Errorf("%w: field %d has no name", ErrInvalidSpec, i)
		}
		if !f.Type.valid() {
			return nil, fmt.Errorf("%w: field %s: unknown type %q", ErrInvalidSpec, f.Name, f.Type)
		}
		for _, k := range append([]string{f.Name}, f.Aliases...) {
			if seen[k] {
				return nil, fmt.Errorf("%w: key %s declared twice", ErrInvalidSpec, k)
			}
			seen[k] = true
		}
		if f.Default == nil || f.Required {
			continue
		}
		var v any
		var err error
		if str, ok := f.Default.(string); ok && f.Type != TypePassword {
			v, err = parseValue(f.Type, str)
		} else {
			v, err = coerceDefault(f.Type, f.Default)
		}
		if err == nil {
			err = runValidators(f.Validators, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: default: %v", ErrInvalidSpec, f.Name, err)
		}
		s.defaults[f.Name] = v
	}
	return s, nil
}

// MustConfigSpec is NewConfigSpec for package-level specs; it panics on a
// malformed spec, which is a programming error caught by any test.
func MustConfigSpec(fields ...Field) *ConfigSpec {
	s, err := NewConfigSpec(fields...)
	if err != nil {
		panic(err)
	}
	return s
}

// Fields returns a copy of the declared fields, in declaration order.
func (s *ConfigSpec) Fields() []Field {
	if s == nil {
		return nil
	}
	return append([]Field(nil), s.fields...)
}

// Default returns the default of the field name as Parse fills it in (a value of the Go type
// of the field's Type) and whether the field has one; a required field has none.
func (s *ConfigSpec) Default(name string) (any, bool) {
	if s == nil {
		return nil, false
	}
	v, ok := s.defaults[name]
	return v, ok
}

// FormatValue renders a value of a field's Go type as the text Parse reads back to the same
// value, so that it can be pasted into a config: a LIST as its items joined by commas (as
// Kafka Connect shows one), a DURATION in Go syntax ("30s", "1.5ms": no part of it is
// rounded away), a PASSWORD as the secret itself (callers that show it hide it first).
func FormatValue(v any) string {
	switch d := v.(type) {
	case []string:
		return strings.Join(d, ",")
	case time.Duration:
		return d.String()
	case Password:
		return d.Value()
	case float64:
		return strconv.FormatFloat(d, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// Parse reads cfg (a flat string map; keys the spec does not declare are
// ignored) into typed Values with defaults filled in. It returns every
// problem at once as cfgerr.List, each naming the key, the bad value
// (masked when secret) and the reason.
func (s *ConfigSpec) Parse(cfg map[string]string) (Values, error) {
	vals := Values{m: map[string]any{}, set: map[string]bool{}}
	if s == nil {
		return vals, nil
	}
	var errs cfgerr.List
	for i := range s.fields {
		f := &s.fields[i]
		key, raw, found, conflict := lookup(f, cfg)
		if conflict != nil {
			errs = append(errs, conflict)
			continue
		}
		if !found {
			if f.Required {
				errs = append(errs, &cfgerr.Error{Key: f.Name, Reason: "missing required configuration", Err: ErrMissingRequired})
				continue
			}
			if d, ok := s.defaults[f.Name]; ok {
				vals.m[f.Name] = d
			}
			continue
		}
		shown := raw
		if f.secret() {
			shown = HiddenValue
		}
		v, err := parseValue(f.Type, raw)
		if err == nil {
			err = runValidators(f.Validators, v)
		}
		if err != nil {
			errs = append(errs, &cfgerr.Error{Key: key, Value: shown, Reason: err.Error(), Err: ErrInvalidValue})
			continue
		}
		for _, val := range f.Validators {
			if o, ok := val.(oneOf); ok {
				v = o.canonical(v)
			}
		}
		vals.m[f.Name] = v
		vals.set[f.Name] = true
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return vals, errs
	}
	return vals, nil
}

// lookup finds the value of f under its name or an alias.
func lookup(f *Field, cfg map[string]string) (key, raw string, found bool, conflict *cfgerr.Error) {
	if v, ok := cfg[f.Name]; ok {
		key, raw, found = f.Name, v, true
	}
	for _, a := range f.Aliases {
		v, ok := cfg[a]
		if !ok {
			continue
		}
		if !found {
			key, raw, found = a, v, true
			continue
		}
		if v != raw {
			shown := v
			if f.secret() {
				shown = HiddenValue
			}
			return "", "", false, &cfgerr.Error{Key: a, Value: shown,
				Reason: fmt.Sprintf("conflicts with %s, which is set to a different value", key), Err: ErrConflictingKeys}
		}
	}
	return key, raw, found, nil
}

func (t Type) valid() bool {
	switch t {
	case TypeString, TypeInt, TypeLong, TypeDouble, TypeBoolean, TypeList, TypePassword, TypeDuration, TypeClass:
		return true
	}
	return false
}

// parseValue parses user input as type t; the error is a reason for a human.
func parseValue(t Type, raw string) (any, error) {
	switch t {
	case TypeString:
		return raw, nil
	case TypeClass:
		return strings.TrimSpace(raw), nil
	case TypePassword:
		return Password(raw), nil
	case TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("not a 32-bit integer")
		}
		return int(n), nil
	case TypeLong:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a 64-bit integer")
		}
		return n, nil
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("not a number")
		}
		return f, nil
	case TypeBoolean:
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("not a boolean (true or false)")
	case TypeList:
		return ParseList(raw), nil
	case TypeDuration:
		return parseDuration(raw)
	}
	return nil, fmt.Errorf("unknown type %s", t)
}

// ParseList splits a comma-separated list, trimming items and dropping empty ones.
func ParseList(raw string) []string {
	out := []string{}
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseDuration(raw string) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("duration out of range")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("not a duration (e.g. 500ms, 1m30s, or an integer of milliseconds)")
	}
	return d, nil
}

func coerceDefault(t Type, v any) (any, error) {
	ok := false
	switch t {
	case TypeString, TypeClass:
		_, ok = v.(string)
	case TypePassword:
		switch p := v.(type) {
		case Password:
			ok = true
		case string:
			return Password(p), nil
		}
	case TypeInt:
		_, ok = v.(int)
	case TypeLong:
		if n, isInt := v.(int); isInt {
			return int64(n), nil
		}
		_, ok = v.(int64)
	case TypeDouble:
		if n, isInt := v.(int); isInt {
			return float64(n), nil
		}
		_, ok = v.(float64)
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeList:
		if l, isList := v.([]string); isList {
			return append([]string{}, l...), nil
		}
	case TypeDuration:
		_, ok = v.(time.Duration)
	}
	if !ok {
		return nil, fmt.Errorf("default %v (%T) does not fit type %s", v, v, t)
	}
	return v, nil
}

func runValidators(vs []Validator, v any) error {
	for _, val := range vs {
		if val == nil {
			continue
		}
		if err := val.Validate(v); err != nil {
			return err
		}
	}
	return nil
}

// Values are the typed result of ConfigSpec.Parse. Accessors return the
// zero value for a key the spec does not declare or that has no value.
type Values struct {
	m   map[string]any
	set map[string]bool
}

// Get returns the typed value of name and whether it has one (set or default).
func (v Values) Get(name string) (any, bool) {
	x, ok := v.m[name]
	return x, ok
}

// IsSet reports whether the user supplied name (or an alias), as opposed to a default.
func (v Values) IsSet(name string) bool { return v.set[name] }

// String returns a STRING or CLASS value.
func (v Values) String(name string) string { s, _ := v.m[name].(string); return s }

// Int returns an INT value.
func (v Values) Int(name string) int { n, _ := v.m[name].(int); return n }

// Long returns a LONG value.
func (v Values) Long(name string) int64 { n, _ := v.m[name].(int64); return n }

// Double returns a DOUBLE value.
func (v Values) Double(name string) float64 { f, _ := v.m[name].(float64); return f }

// Bool returns a BOOLEAN value.
func (v Values) Bool(name string) bool { b, _ := v.m[name].(bool); return b }

// List returns a LIST value (a copy).
func (v Values) List(name string) []string {
	l, _ := v.m[name].([]string)
	return append([]string(nil), l...)
}

// Password returns a PASSWORD value.
func (v Values) Password(name string) Password { p, _ := v.m[name].(Password); return p }

// Duration returns a DURATION value.
func (v Values) Duration(name string) time.Duration { d, _ := v.m[name].(time.Duration); return d }
