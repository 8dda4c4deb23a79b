package transforms

// Class-name prefixes accepted as aliases of the built-ins.
const (
	kafkaPrefix     = "org.apache.kafka.connect.transforms."
	kafkaPredPrefix = "org.apache.kafka.connect.transforms.predicates."
	rmqPrefix       = "org.apache.rocketmq.connect.transforms."
	jcPrefix        = "com.github.jcustenborder.kafka.connect.transform.common."
	debeziumPrefix  = "io.debezium.transforms."
)

type builtin struct {
	name string
	// keyed transforms exist as name$Key and name$Value; others as name.
	keyed bool
	// prefixes whose class names are aliases.
	prefixes []string
	make     func(s side) Transform
}

var (
	kafka    = []string{kafkaPrefix}
	rmq      = []string{rmqPrefix, jcPrefix}
	kafkaRMQ = []string{kafkaPrefix, rmqPrefix}
)

// builtinTransforms is the one list of built-in transforms.
func builtinTransforms() []builtin {
	return []builtin{
		{"InsertField", true, kafka, func(s side) Transform { return &InsertField{side: s} }},
		{"ReplaceField", true, kafka, func(s side) Transform { return &ReplaceField{side: s} }},
		{"MaskField", true, kafka, func(s side) Transform { return &MaskField{side: s} }},
		{"ValueToKey", false, kafka, func(side) Transform { return &ValueToKey{} }},
		{"ExtractField", true, kafka, func(s side) Transform { return &ExtractField{side: s} }},
		{"HoistField", true, kafka, func(s side) Transform { return &HoistField{side: s} }},
		{"Cast", true, kafka, func(s side) Transform { return &Cast{side: s} }},
		{"Flatten", true, kafka, func(s side) Transform { return &Flatten{side: s} }},
		{"RegexRouter", false, kafkaRMQ, func(side) Transform { return &RegexRouter{} }},
		{"TimestampRouter", false, kafka, func(side) Transform { return &TimestampRouter{} }},
		{"TimestampConverter", true, kafka, func(s side) Transform { return &TimestampConverter{side: s} }},
		{"SetSchemaMetadata", true, kafka, func(s side) Transform { return &SetSchemaMetadata{side: s} }},
		{"Filter", false, kafka, func(side) Transform { return &Filter{} }},
		{"InsertHeader", false, kafka, func(side) Transform { return &InsertHeader{} }},
		{"DropHeaders", false, kafka, func(side) Transform { return &DropHeaders{} }},
		{"HeaderFrom", true, kafka, func(s side) Transform { return &HeaderFrom{side: s} }},
		{"ChangeCase", true, rmq, func(s side) Transform { return &ChangeCase{side: s} }},
		{"ExtractNestedField", true, rmq, func(s side) Transform { return &ExtractNestedField{side: s} }},
		{"PatternFilter", true, rmq, func(s side) Transform { return &PatternFilter{side: s} }},
		{"PatternRename", true, rmq, func(s side) Transform { return &PatternRename{side: s} }},
		{"SetMaximumPrecision", true, rmq, func(s side) Transform { return &SetMaximumPrecision{side: s} }},
		{"SetNull", true, rmq, func(s side) Transform { return &SetNull{side: s} }},
		{"ExtractNewRecordState", false, []string{debeziumPrefix}, func(side) Transform { return &ExtractNewRecordState{} }},
	}
}

// Builtins returns a new registry holding every built-in transform and
// predicate. Keyed transforms are registered as Name$Key and Name$Value; each
// name also answers to its Kafka Connect class name
// (org.apache.kafka.connect.transforms.InsertField$Value) or RocketMQ Connect
// class name (org.apache.rocketmq.connect.transforms.ChangeCase$Value).
func Builtins() *Registry {
	r := NewRegistry()
	must := func(err error) {
		if err != nil {
			panic(err) // the built-in list is static; a duplicate is caught by every test
		}
	}
	for _, b := range builtinTransforms() {
		variants := []struct {
			suffix string
			s      side
		}{{"", valueSide}}
		if b.keyed {
			variants = []struct {
				suffix string
				s      side
			}{{"$Key", keySide}, {"$Value", valueSide}}
		}
		for _, v := range variants {
			name := b.name + v.suffix
			var aliases []string
			for _, p := range b.prefixes {
				aliases = append(aliases, p+name)
			}
			mk, s := b.make, v.s
			must(r.RegisterTransform(name, aliases, func() Transform { return mk(s) }))
		}
	}
	must(r.RegisterPredicate("TopicNameMatches", []string{kafkaPredPrefix + "TopicNameMatches"}, func() Predicate { return &TopicNameMatches{} }))
	must(r.RegisterPredicate("HasHeaderKey", []string{kafkaPredPrefix + "HasHeaderKey"}, func() Predicate { return &HasHeaderKey{} }))
	must(r.RegisterPredicate("RecordIsTombstone", []string{kafkaPredPrefix + "RecordIsTombstone"}, func() Predicate { return &RecordIsTombstone{} }))
	return r
}
