package restapi

// ConnectorOffset is one partition's offset, in Kafka Connect's offsets API shape. For a
// source connector both maps are the connector's own source partition and offset; for a
// sink they are {"topic","broker","queue"} and {"offset": next offset to consume}.
type ConnectorOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// ConnectorOffsets is GET /connectors/{name}/offsets.
type ConnectorOffsets struct {
	Offsets []ConnectorOffset `json:"offsets"`
}
