package cdc

import (
	"log/slog"
	"time"
)

// OutageRepeat is how often a connection still down is logged again when its error stays the same.
const OutageRepeat = time.Minute

// Outage tracks a CDC task's lost connection to its server while it reconnects: the first failure is logged,
// then every failure whose error differs from the one logged before (an EOF first, then the real cause:
// access denied, a server id in use) and, while the error stays the same, one a minute, each with how long
// the connection has been down; Resumed logs the end. So a long outage stays in the log, and the real
// cause of one shows however long the reconnects keep failing. mysql-cdc and postgres-cdc keep one a task.
type Outage struct {
	since, logged time.Time
	last          string
	now           func() time.Time
}

// Down reports whether the connection is lost and not back yet.
func (o *Outage) Down() bool { return !o.since.IsZero() }

// Lost records a failed connection or reconnect; msg and attrs describe the connection.
func (o *Outage) Lost(log *slog.Logger, msg string, err error, attrs ...any) {
	now := o.clock()
	text := "<nil>"
	if err != nil {
		text = err.Error()
	}
	if o.since.IsZero() {
		o.since, o.logged, o.last = now, now, text
		log.Warn(msg+"; reconnecting", append(attrs, "err", err)...)
		return
	}
	if text == o.last && now.Sub(o.logged) < OutageRepeat {
		return
	}
	o.logged, o.last = now, text
	log.Warn(msg+"; still reconnecting", append(attrs, "down", now.Sub(o.since).Round(time.Second), "err", err)...)
}

// Resumed records the connection back and logs how long it was down, when it was.
func (o *Outage) Resumed(log *slog.Logger, msg string, attrs ...any) {
	if o.since.IsZero() {
		return
	}
	log.Info(msg, append(attrs, "down", o.clock().Sub(o.since).Round(time.Millisecond))...)
	*o = Outage{now: o.now}
}

func (o *Outage) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}
