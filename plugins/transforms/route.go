package transforms

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// RegexRouter rewrites the topic when the whole topic matches regex;
// replacement uses Java syntax ($1, ${name}, \$ for a literal dollar); a
// reference to a group the regex does not have is a configuration error.
type RegexRouter struct {
	re   *regexp.Regexp
	repl string
}

var regexRouterSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "regex", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expression the whole topic must match."},
	plugins.Field{Name: "replacement", Type: plugins.TypeString, Required: true, Doc: "Replacement ($1 or ${name} refers to a group of regex, which must have it)."},
)

// Spec declares the configuration keys.
func (t *RegexRouter) Spec() *plugins.ConfigSpec { return regexRouterSpec }

// Configure reads the configuration.
func (t *RegexRouter) Configure(cfg map[string]string) error {
	v, err := regexRouterSpec.Parse(cfg)
	if err != nil {
		return err
	}
	if t.re, err = regexp.Compile(`^(?:` + v.String("regex") + `)$`); err != nil {
		return &cfgerr.Error{Key: "regex", Value: v.String("regex"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	t.repl, err = javaReplacement(v.String("replacement"), t.re)
	if err != nil {
		return &cfgerr.Error{Key: "replacement", Value: v.String("replacement"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Apply rewrites the topic.
func (t *RegexRouter) Apply(r *schema.Record) (*schema.Record, error) {
	m := t.re.FindStringSubmatchIndex(r.Topic)
	if m == nil {
		return r, nil
	}
	c := *r
	c.Topic = string(t.re.ExpandString(nil, t.repl, r.Topic, m))
	return &c, nil
}

// javaReplacement turns a java.util.regex replacement for re into a Go template. Group references follow
// Matcher.appendReplacement: $ and the first digit name a group, and each further digit joins the number only while
// the group exists, so with one group "$10" is group 1 then "0"; a group re does not have ($2 with one group, ${x}
// with no group x) is an error, where Go's Expand would put an empty string in its place.
func javaReplacement(s string, re *regexp.Regexp) (string, error) {
	groups := re.NumSubexp()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			i++
			if i >= len(s) {
				return "", fmt.Errorf("replacement ends with a backslash")
			}
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return "", fmt.Errorf("unclosed group name in replacement")
				}
				name := s[i+2 : i+end]
				if n, err := strconv.Atoi(name); err == nil && strings.Trim(name, "0123456789") == "" { // ${1}, as Go writes $1
					if n > groups {
						return "", fmt.Errorf("no group %d in the regular expression, which has %d", n, groups)
					}
				} else if re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("no group named %q in the regular expression", name)
				}
				b.WriteString(s[i : i+end+1])
				i += end
				continue
			}
			if i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9' {
				return "", fmt.Errorf("illegal group reference at position %d", i)
			}
			n := int(s[i+1] - '0')
			if n > groups {
				return "", fmt.Errorf("no group %d in the regular expression, which has %d", n, groups)
			}
			j := i + 2
			for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				next := n*10 + int(s[j]-'0')
				if next > groups {
					break
				}
				n = next
			}
			b.WriteString("${" + strconv.Itoa(n) + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// TimestampRouter sets the topic to topic.format with ${topic} and
// ${timestamp} (the record time in timestamp.format, Java SimpleDateFormat
// syntax, UTC) replaced. A record without a timestamp is an error.
type TimestampRouter struct {
	topicFormat string
	layout      javaLayout
}

var timestampRouterSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "topic.format", Type: plugins.TypeString, Default: "${topic}-${timestamp}", Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Topic template with ${topic} and ${timestamp}."},
	plugins.Field{Name: "timestamp.format", Type: plugins.TypeString, Default: "yyyyMMdd", Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Java SimpleDateFormat pattern for ${timestamp}."},
)

// Spec declares the configuration keys.
func (t *TimestampRouter) Spec() *plugins.ConfigSpec { return timestampRouterSpec }

// Configure reads the configuration.
func (t *TimestampRouter) Configure(cfg map[string]string) error {
	v, err := timestampRouterSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.topicFormat = v.String("topic.format")
	t.layout, err = parseJavaLayout(v.String("timestamp.format"))
	if err != nil {
		return &cfgerr.Error{Key: "timestamp.format", Value: v.String("timestamp.format"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Apply rewrites the topic.
func (t *TimestampRouter) Apply(r *schema.Record) (*schema.Record, error) {
	if r.Timestamp.IsZero() {
		return nil, unsupported("TimestampRouter: record has no timestamp")
	}
	c := *r
	topic := strings.ReplaceAll(t.topicFormat, "${topic}", r.Topic)
	c.Topic = strings.ReplaceAll(topic, "${timestamp}", t.layout.format(r.Timestamp))
	return &c, nil
}

// Filter drops every record it is applied to; combine it with a predicate.
type Filter struct{}

// Configure accepts no keys.
func (*Filter) Configure(map[string]string) error { return nil }

// Apply drops the record.
func (*Filter) Apply(*schema.Record) (*schema.Record, error) { return nil, nil }

// SetNull sets the key (or value) and its schema to null.
type SetNull struct{ side side }

// Configure accepts no keys.
func (*SetNull) Configure(map[string]string) error { return nil }

// Apply nulls the key or value.
func (t *SetNull) Apply(r *schema.Record) (*schema.Record, error) {
	return t.side.with(r, nil, nil), nil
}

// SetSchemaMetadata sets the name and/or version of the key or value schema.
// Records without a schema are an error wrapping ErrSchemaRequired.
type SetSchemaMetadata struct {
	side    side
	name    string
	hasName bool
	version int
	hasVer  bool
	cache   schemaCache
}

var setSchemaMetadataSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "schema.name", Type: plugins.TypeString, Doc: "New schema name."},
	plugins.Field{Name: "schema.version", Type: plugins.TypeInt, Doc: "New schema version."},
)

// Spec declares the configuration keys.
func (t *SetSchemaMetadata) Spec() *plugins.ConfigSpec { return setSchemaMetadataSpec }

// Configure reads the configuration.
func (t *SetSchemaMetadata) Configure(cfg map[string]string) error {
	v, err := setSchemaMetadataSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.name, t.hasName = v.String("schema.name"), v.IsSet("schema.name")
	t.version, t.hasVer = v.Int("schema.version"), v.IsSet("schema.version")
	if !t.hasName && !t.hasVer {
		return &cfgerr.Error{Key: "schema.name", Reason: "schema.name or schema.version must be set", Err: plugins.ErrMissingRequired}
	}
	return nil
}

// Apply replaces the schema metadata.
func (t *SetSchemaMetadata) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if sc == nil {
		return nil, fmt.Errorf("SetSchemaMetadata %s: %w", t.side, ErrSchemaRequired)
	}
	newSc, _ := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		c := *sc
		if t.hasName {
			c.Name = t.name
		}
		if t.hasVer {
			c.Version = t.version
		}
		if sc.Type == typeStruct {
			c.Default = nil
		}
		return &c, nil
	})
	if st, ok := v.(*structValue); ok && st != nil && sc.Type == typeStruct {
		vals := make([]any, len(sc.Fields))
		for i := range vals {
			vals[i] = st.GetIndex(i)
		}
		out, err := fill(newSc, vals)
		if err != nil {
			return nil, fmt.Errorf("SetSchemaMetadata: %w", err)
		}
		v = out
	}
	return t.side.with(r, newSc, v), nil
}
