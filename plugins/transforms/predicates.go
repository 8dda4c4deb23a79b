package transforms

import (
	"regexp"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TopicNameMatches is true when the whole topic matches pattern.
type TopicNameMatches struct{ re *regexp.Regexp }

var topicNameMatchesSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "pattern", Type: plugins.TypeString, Required: true,
		Validators: []plugins.Validator{plugins.NonEmpty(), plugins.IsRegex()}, Doc: "Regular expression the whole topic must match."},
)

// Spec declares the configuration keys.
func (p *TopicNameMatches) Spec() *plugins.ConfigSpec { return topicNameMatchesSpec }

// Configure reads the configuration.
func (p *TopicNameMatches) Configure(cfg map[string]string) error {
	v, err := topicNameMatchesSpec.Parse(cfg)
	if err != nil {
		return err
	}
	p.re, err = regexp.Compile(`^(?:` + v.String("pattern") + `)$`)
	if err != nil {
		return &cfgerr.Error{Key: "pattern", Value: v.String("pattern"), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Test matches the topic.
func (p *TopicNameMatches) Test(r *schema.Record) bool {
	return p.re != nil && p.re.MatchString(r.Topic)
}

// HasHeaderKey is true when the record has at least one header named name.
type HasHeaderKey struct{ name string }

var hasHeaderKeySpec = plugins.MustConfigSpec(
	plugins.Field{Name: "name", Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Header key."},
)

// Spec declares the configuration keys.
func (p *HasHeaderKey) Spec() *plugins.ConfigSpec { return hasHeaderKeySpec }

// Configure reads the configuration.
func (p *HasHeaderKey) Configure(cfg map[string]string) error {
	v, err := hasHeaderKeySpec.Parse(cfg)
	p.name = v.String("name")
	return err
}

// Test looks for the header.
func (p *HasHeaderKey) Test(r *schema.Record) bool {
	_, ok := r.Headers.Get(p.name)
	return ok
}

// RecordIsTombstone is true when the record's value is null.
type RecordIsTombstone struct{}

// Configure accepts no keys.
func (*RecordIsTombstone) Configure(map[string]string) error { return nil }

// Test checks for a null value.
func (*RecordIsTombstone) Test(r *schema.Record) bool { return r.Value == nil }
