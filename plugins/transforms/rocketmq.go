package transforms

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Case formats of ChangeCase (Guava CaseFormat names).
var caseFormats = []string{"LOWER_HYPHEN", "LOWER_UNDERSCORE", "LOWER_CAMEL", "UPPER_CAMEL", "UPPER_UNDERSCORE"}

// ChangeCase renames top-level fields from one case format to another
// (LOWER_HYPHEN, LOWER_UNDERSCORE, LOWER_CAMEL, UPPER_CAMEL, UPPER_UNDERSCORE).
type ChangeCase struct {
	side     side
	from, to string
	cache    schemaCache
}

var changeCaseSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "from", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.OneOf(caseFormats...)}, Doc: "Case format of the field names."},
	plugins.Field{Name: "to", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.OneOf(caseFormats...)}, Doc: "Case format to convert to."},
)

// Spec declares the configuration keys.
func (t *ChangeCase) Spec() *plugins.ConfigSpec { return changeCaseSpec }

// Configure reads the configuration.
func (t *ChangeCase) Configure(cfg map[string]string) error {
	v, err := changeCaseSpec.Parse(cfg)
	t.from, t.to = strings.ToUpper(v.String("from")), strings.ToUpper(v.String("to"))
	return err
}

// Apply renames the fields.
func (t *ChangeCase) Apply(r *schema.Record) (*schema.Record, error) {
	return renameFields(r, t.side, "ChangeCase", &t.cache, func(n string) (string, bool) {
		return convertCase(n, t.from, t.to), true
	})
}

func convertCase(name, from, to string) string {
	var words []string
	switch from {
	case "LOWER_HYPHEN":
		words = strings.Split(name, "-")
	case "LOWER_UNDERSCORE", "UPPER_UNDERSCORE":
		words = strings.Split(name, "_")
	default: // camel: a new word starts at each upper-case letter
		start := 0
		for i, c := range name {
			if i > 0 && unicode.IsUpper(c) {
				words = append(words, name[start:i])
				start = i
			}
		}
		words = append(words, name[start:])
	}
	for i, w := range words {
		switch to {
		case "UPPER_UNDERSCORE":
			words[i] = strings.ToUpper(w)
		case "LOWER_CAMEL", "UPPER_CAMEL":
			w = strings.ToLower(w)
			if w != "" && (i > 0 || to == "UPPER_CAMEL") {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			words[i] = w
		default:
			words[i] = strings.ToLower(w)
		}
	}
	switch to {
	case "LOWER_HYPHEN":
		return strings.Join(words, "-")
	case "LOWER_UNDERSCORE", "UPPER_UNDERSCORE":
		return strings.Join(words, "_")
	}
	return strings.Join(words, "")
}

// ExtractNestedField copies outer.inner to a new top-level field.
type ExtractNestedField struct {
	side               side
	outer, inner, dest string
	cache              schemaCache
}

var extractNestedSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "input.outer.field.name", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "The struct (or map) field."},
	plugins.Field{Name: "input.inner.field.name", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "The field inside it."},
	plugins.Field{Name: "output.field.name", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "The new top-level field."},
)

// Spec declares the configuration keys.
func (t *ExtractNestedField) Spec() *plugins.ConfigSpec { return extractNestedSpec }

// Configure reads the configuration.
func (t *ExtractNestedField) Configure(cfg map[string]string) error {
	v, err := extractNestedSpec.Parse(cfg)
	t.outer, t.inner, t.dest = v.String("input.outer.field.name"), v.String("input.inner.field.name"), v.String("output.field.name")
	return err
}

// Apply adds the field.
func (t *ExtractNestedField) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, "ExtractNestedField "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := copyMap(m)
		var x any
		if outer, ok := m[t.outer].(map[string]any); ok {
			x = outer[t.inner]
		} else if m[t.outer] != nil {
			return nil, unsupported("ExtractNestedField: field %q is a %T, not a map", t.outer, m[t.outer])
		}
		out[t.dest] = x
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "ExtractNestedField "+t.side.String())
	if err != nil {
		return nil, err
	}
	of, ok := sc.Field(t.outer)
	if !ok || of.Schema.Type != typeStruct {
		return nil, fmt.Errorf("ExtractNestedField %s: %w: struct field %q", t.side, ErrFieldNotFound, t.outer)
	}
	inf, ok := of.Schema.Field(t.inner)
	if !ok {
		return nil, fmt.Errorf("ExtractNestedField %s: %w: %q in %q", t.side, ErrFieldNotFound, t.inner, t.outer)
	}
	newSc, err := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		if _, dup := sc.Field(t.dest); dup {
			return nil, unsupported("ExtractNestedField: field %q already exists", t.dest)
		}
		fs := inf.Schema
		if of.Schema.Optional {
			fs = optional(fs)
		}
		return structWith(sc, append(append([]schema.Field(nil), sc.Fields...), schema.Field{Name: t.dest, Schema: fs})), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(sc.Fields), len(sc.Fields)+1)
	for i := range sc.Fields {
		vals[i] = st.GetIndex(i)
	}
	var x any
	if outer, _ := fieldValue(st, of.Index).(*structValue); outer != nil {
		x = fieldValue(outer, inf.Index)
	}
	out, err := fill(newSc, append(vals, x))
	if err != nil {
		return nil, fmt.Errorf("ExtractNestedField: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

// PatternFilter drops the record when one of the listed string fields (all
// top-level string fields when fields is empty) fully matches pattern.
type PatternFilter struct {
	side   side
	re     *regexp.Regexp
	fields []string
}

var patternFilterSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "pattern", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty(), plugins.IsRegex()}, Doc: "Regular expression."},
	plugins.Field{Name: "fields", Type: plugins.TypeList, Default: "", Doc: "String fields to test; all when empty."},
)

// Spec declares the configuration keys.
func (t *PatternFilter) Spec() *plugins.ConfigSpec { return patternFilterSpec }

// Configure reads the configuration.
func (t *PatternFilter) Configure(cfg map[string]string) error {
	v, err := patternFilterSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.fields = v.List("fields")
	t.re, err = regexp.Compile(`^(?:` + v.String("pattern") + `)$`)
	if err != nil {
		return &cfgerr.Error{Key: "pattern", Value: v.String("pattern"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Apply drops matching records.
func (t *PatternFilter) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	match := func(x any) bool {
		s, ok := x.(string)
		return ok && t.re.MatchString(s)
	}
	if sc == nil {
		if s, ok := v.(string); ok {
			if match(s) {
				return nil, nil
			}
			return r, nil
		}
		m, err := requireMap(v, "PatternFilter "+t.side.String())
		if err != nil {
			return nil, err
		}
		if len(t.fields) == 0 {
			for _, x := range m {
				if match(x) {
					return nil, nil
				}
			}
		}
		for _, f := range t.fields {
			if match(m[f]) {
				return nil, nil
			}
		}
		return r, nil
	}
	if sc.Type == schema.String {
		if match(v) {
			return nil, nil
		}
		return r, nil
	}
	st, err := requireStruct(sc, v, "PatternFilter "+t.side.String())
	if err != nil {
		return nil, err
	}
	for _, f := range sc.Fields {
		if len(t.fields) > 0 && !contains(t.fields, f.Name) {
			continue
		}
		if match(fieldValue(st, f.Index)) {
			return nil, nil
		}
	}
	return r, nil
}

// PatternRename renames top-level fields whose name matches field.pattern,
// replacing the matches with field.replacement (Java syntax, $1 for groups).
// field.pattern.flags takes Java Pattern flag names (CASE_INSENSITIVE,
// MULTILINE, DOTALL; others are accepted and ignored).
type PatternRename struct {
	side  side
	re    *regexp.Regexp
	repl  string
	cache schemaCache
}

var patternRenameSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "field.pattern", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty(), plugins.IsRegex()}, Doc: "Regular expression over field names."},
	plugins.Field{Name: "field.pattern.flags", Type: plugins.TypeList, Default: "CASE_INSENSITIVE",
		Validators: []plugins.Validator{plugins.OneOf("UNIX_LINES", "CASE_INSENSITIVE", "COMMENTS", "MULTILINE", "LITERAL", "DOTALL", "UNICODE_CASE", "CANON_EQ", "UNICODE_CHARACTER_CLASS")},
		Doc:        "Java Pattern flags."},
	plugins.Field{Name: "field.replacement", Type: plugins.TypeString, Required: true, Doc: "Replacement."},
)

// Spec declares the configuration keys.
func (t *PatternRename) Spec() *plugins.ConfigSpec { return patternRenameSpec }

// Configure reads the configuration.
func (t *PatternRename) Configure(cfg map[string]string) error {
	v, err := patternRenameSpec.Parse(cfg)
	if err != nil {
		return err
	}
	flags := ""
	for _, f := range v.List("field.pattern.flags") {
		switch strings.ToUpper(f) {
		case "CASE_INSENSITIVE":
			flags += "i"
		case "MULTILINE":
			flags += "m"
		case "DOTALL":
			flags += "s"
		}
	}
	p := v.String("field.pattern")
	if flags != "" {
		p = "(?" + flags + ")" + p
	}
	if t.re, err = regexp.Compile(p); err != nil {
		return &cfgerr.Error{Key: "field.pattern", Value: v.String("field.pattern"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	if t.repl, err = javaReplacement(v.String("field.replacement"), t.re); err != nil {
		return &cfgerr.Error{Key: "field.replacement", Value: v.String("field.replacement"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Apply renames the fields.
func (t *PatternRename) Apply(r *schema.Record) (*schema.Record, error) {
	return renameFields(r, t.side, "PatternRename", &t.cache, func(n string) (string, bool) {
		return t.re.ReplaceAllString(n, t.repl), true
	})
}

// DecimalPrecisionParam is the schema parameter that carries a Decimal's
// precision (as the Avro converter writes it).
const DecimalPrecisionParam = "connect.decimal.precision"

// SetMaximumPrecision caps Decimal precision at precision.max: Decimal
// fields whose precision parameter is missing or larger get it set to the
// maximum, and values with more significant digits are rounded half-up to
// precision.max significant digits (the scale is kept, so the value stays
// valid for its schema).
type SetMaximumPrecision struct {
	side  side
	max   int
	cache schemaCache
}

var setMaxPrecisionSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "precision.max", Type: plugins.TypeInt, Required: true, Validators: []plugins.Validator{plugins.Between(1, 1000)}, Doc: "Maximum precision."},
)

// Spec declares the configuration keys.
func (t *SetMaximumPrecision) Spec() *plugins.ConfigSpec { return setMaxPrecisionSpec }

// Configure reads the configuration.
func (t *SetMaximumPrecision) Configure(cfg map[string]string) error {
	v, err := setMaxPrecisionSpec.Parse(cfg)
	t.max = v.Int("precision.max")
	return err
}

func isDecimal(s *schema.Schema) bool {
	return s != nil && s.Name == schema.DecimalName && s.Type == schema.Bytes
}

// Apply caps the precision.
func (t *SetMaximumPrecision) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil || isDecimal(sc) {
		if d, ok := v.(schema.Decimal); ok {
			return t.side.with(r, t.capSchema(sc), roundDecimal(d, t.max)), nil
		}
		if sc != nil {
			return r, nil
		}
		m, err := requireMap(v, "SetMaximumPrecision "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := copyMap(m)
		for k, x := range m {
			if d, ok := x.(schema.Decimal); ok {
				out[k] = roundDecimal(d, t.max)
			}
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "SetMaximumPrecision "+t.side.String())
	if err != nil {
		return nil, err
	}
	newSc, _ := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		fields := append([]schema.Field(nil), sc.Fields...)
		for i, f := range fields {
			if isDecimal(f.Schema) {
				fields[i].Schema = t.capSchema(f.Schema)
			}
		}
		return structWith(sc, fields), nil
	})
	vals := make([]any, len(sc.Fields))
	for i, f := range sc.Fields {
		vals[i] = st.GetIndex(i)
		if d, ok := vals[i].(schema.Decimal); ok && isDecimal(f.Schema) {
			vals[i] = roundDecimal(d, t.max)
		}
	}
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("SetMaximumPrecision: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

func (t *SetMaximumPrecision) capSchema(s *schema.Schema) *schema.Schema {
	if s == nil {
		return nil
	}
	if p, ok := s.ParameterInt(DecimalPrecisionParam); ok && p <= t.max {
		return s
	}
	c := *s
	c.Parameters = make(map[string]string, len(s.Parameters)+1)
	for k, v := range s.Parameters {
		c.Parameters[k] = v
	}
	c.Parameters[DecimalPrecisionParam] = strconv.Itoa(t.max)
	return &c
}

// roundDecimal rounds d half-up to max significant digits, keeping its scale.
func roundDecimal(d schema.Decimal, max int) schema.Decimal {
	if d.Unscaled == nil {
		return d
	}
	abs := new(big.Int).Abs(d.Unscaled)
	digits := len(abs.String())
	if digits <= max {
		return d
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits-max)), nil)
	q, rem := new(big.Int).QuoRem(abs, p, new(big.Int))
	if new(big.Int).Mul(rem, big.NewInt(2)).Cmp(p) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	q.Mul(q, p)
	if d.Unscaled.Sign() < 0 {
		q.Neg(q)
	}
	return schema.Decimal{Unscaled: q, Scale: d.Scale}
}
