// Package pluginpb is the generated code of the plugin protocol (plugin.proto). Regenerate with
// `go generate ./plugins/internal/pluginpb` (protoc 3.21+, protoc-gen-go v1.36.12,
// protoc-gen-go-grpc v1.6.2 on PATH); the output is committed so builds need no protoc.
package pluginpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
