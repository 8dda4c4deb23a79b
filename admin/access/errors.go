package access

import (
	"encoding/json"
	"net/http"
)

// ErrorWriter writes an error answer with status and a message, in the shape of the API it serves.
type ErrorWriter func(w http.ResponseWriter, status int, msg string)

// KafkaError writes {"error_code": status, "message": msg}, the admin REST API's error body.
func KafkaError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]any{"error_code": status, "message": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
