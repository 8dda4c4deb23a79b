package replicator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// selection decides which source topics are replicated, under which name, and which tags
// pass.
type selection struct {
	srcAlias, dstAlias string
	listed             []string          // source.topics and src.topictags, in order
	tags               map[string]string // topic → tag expression ("" or "*" means all)
	include, exclude   *regexp.Regexp    // nil include: only the listed topics
	format, destTopic  string
	syncsTopic         string
}

func newSelection(v plugins.Values) (*selection, error) {
	s := &selection{tags: map[string]string{}, format: v.String(KeyTopicFormat), destTopic: v.String(KeyDestTopic),
		syncsTopic: v.String(KeyOffsetSyncs)}
	s.srcAlias, s.dstAlias = aliases(v)
	var errs cfgerr.List
	if s.srcAlias == s.dstAlias {
		errs = append(errs, &cfgerr.Error{Key: KeyTargetAlias, Value: s.dstAlias,
			Reason: "must differ from " + KeySourceAlias + " (both are " + s.srcAlias + "): loop prevention tells the clusters apart by alias"})
	}
	s.listed = v.List(KeyTopics)
	for _, t := range s.listed {
		if !rmqname.Topic(t) {
			errs = append(errs, &cfgerr.Error{Key: KeyTopics, Value: t, Reason: "not a valid RocketMQ topic name"})
		}
	}
	for _, pair := range strings.Split(v.String(KeyTopicTags), ";") {
		topic, tags, _ := strings.Cut(strings.TrimSpace(pair), ",")
		if topic = strings.TrimSpace(topic); topic == "" {
			continue
		}
		if !rmqname.Topic(topic) {
			errs = append(errs, &cfgerr.Error{Key: KeyTopicTags, Value: topic, Reason: "not a valid RocketMQ topic name"})
		}
		s.listed = append(s.listed, topic)
		s.tags[topic] = strings.TrimSpace(tags)
	}
	if re := v.String(KeyTopicsRegex); re != "" {
		s.include = regexp.MustCompile("^(?:" + re + ")$") // IsRegex validated it
	}
	s.exclude = regexp.MustCompile("^(?:" + v.String(KeyTopicsExclude) + ")$")
	if len(s.listed) == 0 && s.include == nil {
		errs = append(errs, &cfgerr.Error{Key: KeyTopics, Reason: "name the topics to replicate: " + KeyTopics + ", " +
			KeyTopicsRegex + " or " + KeyTopicTags})
	}
	if s.destTopic != "" && !rmqname.Topic(s.destTopic) {
		errs = append(errs, &cfgerr.Error{Key: KeyDestTopic, Value: s.destTopic, Reason: "not a valid RocketMQ topic name"})
	}
	if s.destTopic == "" {
		if !strings.Contains(s.format, "${topic}") {
			errs = append(errs, &cfgerr.Error{Key: KeyTopicFormat, Value: s.format, Reason: "must contain ${topic}"})
		} else if probe := s.rename("t"); !rmqname.Topic(probe) {
			errs = append(errs, &cfgerr.Error{Key: KeyTopicFormat, Value: s.format,
				Reason: fmt.Sprintf("gives %q, not a valid RocketMQ topic name (letters, digits, '_', '-', '%%', '|'; no '.')", probe)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// rename returns the target topic of a source topic.
func (s *selection) rename(topic string) string {
	if s.destTopic != "" {
		return s.destTopic
	}
	return strings.NewReplacer("${alias}", s.srcAlias, "${topic}", topic).Replace(s.format)
}

// identity reports whether a topic keeps its name on the target, where loops are only
// prevented by the path property.
func (s *selection) identity(topic string) bool { return s.rename(topic) == topic }

// remoteOfTarget reports whether topic is itself a replica of a target-cluster topic
// (named by the format with the target's alias): replicating it back would loop.
func (s *selection) remoteOfTarget(topic string) bool {
	if s.destTopic != "" || !strings.Contains(s.format, "${alias}") {
		return false
	}
	pre, suf, _ := strings.Cut(strings.ReplaceAll(s.format, "${alias}", s.dstAlias), "${topic}")
	return len(topic) > len(pre)+len(suf) && strings.HasPrefix(topic, pre) && strings.HasSuffix(topic, suf)
}

// matches reports whether an existing source topic is replicated.
func (s *selection) matches(topic string) bool {
	if slices.Contains(s.listed, topic) {
		return true
	}
	if s.include == nil || !s.include.MatchString(topic) || s.exclude.MatchString(topic) || s.remoteOfTarget(topic) {
		return false
	}
	return topic != s.syncsTopic
}

// choose returns the replicated topics among the existing ones, sorted.
func (s *selection) choose(existing []string) []string {
	var out []string
	for _, t := range existing {
		if s.matches(t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// tagFilter returns a filter for a topic's tag expression; nil lets everything pass.
func (s *selection) tagFilter(topic string) func(tag string) bool {
	expr := s.tags[topic]
	if expr == "" || expr == "*" {
		return nil
	}
	var allowed []string
	for _, t := range strings.Split(expr, "||") {
		if t = strings.TrimSpace(t); t != "" {
			allowed = append(allowed, t)
		}
	}
	return func(tag string) bool { return slices.Contains(allowed, tag) }
}
