package rmqclient

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// The client library keeps its logger and panic handler in package variables, so they are
// process-wide. installGlobals sets them once; the slog.Logger they write to is swapped by
// the most recent New so tests that build several clients still see output.
var (
	globalsOnce sync.Once
	clientLog   atomic.Pointer[slog.Logger]
)

// dropFields are client log fields that can carry message bodies or other payload data.
var dropFields = map[string]bool{rlog.LogKeyMessages: true, "message": true, "msgs": true, "body": true}

func installGlobals(l *slog.Logger) {
	clientLog.Store(l.With("component", "rocketmq-client"))
	globalsOnce.Do(func() {
		rlog.SetLogger(slogAdapter{})
		primitive.PanicHandler = func(r any) {
			clientLog.Load().Error("recovered panic in rocketmq client", "panic", fmt.Sprint(r))
		}
	})
}

// slogAdapter implements rlog.Logger. The client's Debug and Info are dropped to Debug;
// Warning and Error become Warn (the client logs transient, retried conditions as errors);
// Fatal becomes Error and, unlike the default logger, never exits the process.
type slogAdapter struct{}

func (slogAdapter) log(level slog.Level, msg string, fields map[string]any) {
	l := clientLog.Load()
	if l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		if dropFields[k] {
			continue
		}
		attrs = append(attrs, k, fmt.Sprint(v))
	}
	l.Log(context.Background(), level, msg, attrs...)
}

func (a slogAdapter) Debug(msg string, fields map[string]any)   { a.log(slog.LevelDebug, msg, fields) }
func (a slogAdapter) Info(msg string, fields map[string]any)    { a.log(slog.LevelDebug, msg, fields) }
func (a slogAdapter) Warning(msg string, fields map[string]any) { a.log(slog.LevelWarn, msg, fields) }
func (a slogAdapter) Error(msg string, fields map[string]any)   { a.log(slog.LevelWarn, msg, fields) }
func (a slogAdapter) Fatal(msg string, fields map[string]any)   { a.log(slog.LevelError, msg, fields) }
func (slogAdapter) Level(string)                                {}
func (slogAdapter) OutputPath(string) error                     { return nil }
