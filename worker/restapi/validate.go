package restapi

// ConfigDefinition describes one config key, in Kafka Connect's validate shape.
type ConfigDefinition struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         string   `json:"group"`
	OrderInGroup  int      `json:"order_in_group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// ConfigValueInfo is a key's value and its errors.
type ConfigValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// ConfigInfo pairs a definition with the validated value.
type ConfigInfo struct {
	Definition ConfigDefinition `json:"definition"`
	Value      ConfigValueInfo  `json:"value"`
}

// ConfigInfos is PUT /connector-plugins/{plugin}/config/validate's answer: Kafka Connect's
// shape plus Warnings, a field Kafka Connect's clients ignore as they ignore every unknown one.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
	// Warnings are the config's keys nothing reads, sorted by key; omitted when there are
	// none. They never count in ErrorCount: a config with warnings only is valid.
	Warnings []ConfigWarning `json:"warnings,omitempty"`
}

// ConfigWarning is a key of a validated config that neither the runtime nor the connector
// (nor a transform, predicate or converter it lists) reads.
type ConfigWarning struct {
	Key string `json:"key"`
	// Message says the key is not read, and why or what was likely meant.
	Message string `json:"message"`
	// Suggestion is a key that is read and close to Key (a typo's likely intent), omitted
	// when none is.
	Suggestion string `json:"suggestion,omitempty"`
}
