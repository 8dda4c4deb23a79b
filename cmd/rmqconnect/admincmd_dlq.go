package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func adminDLQ(e *adminEnv, dlqFlags *adminOpts) error {
	if len(e.args) < 2 {
		return usagef("dlq: want list <name> | show <name> <id> | replay <name> (id... | --all)")
	}
	sub, name := e.args[0], e.args[1]
	switch sub {
	case "list":
		if dlqFlags.limit < 1 {
			// The worker takes limit=1 to 1000; 0 is not "no limit", and must not pass for
			// the worker's default page.
			return usagef("dlq list: --limit %d: must be at least 1 (the worker lists at most 1000 a page)", dlqFlags.limit)
		}
		page, err := e.c.DLQList(e.ctx, name, dlqFlags.after, dlqFlags.limit)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, page)
		}
		tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tSTAGE\tTOPIC\tOFFSET\tREPLAYED\tERROR\tBODY")
		for _, r := range page.Records {
			replayed := "-"
			if r.Replayed != nil {
				replayed = utc(r.Replayed.At)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, utc(r.Time), r.Stage,
				r.Topic, r.Offset, replayed, oneLine(r.ExceptionMessage, 60), oneLine(terminalSafe(r.BodyPreview), 40))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if page.Next != "" {
			fmt.Fprintf(e.out, "more: --after %s\n", page.Next)
		}
		return nil
	case "show":
		if len(e.args) != 3 {
			return usagef("dlq show: want <name> <id>")
		}
		rec, err := e.c.DLQGet(e.ctx, name, e.args[2])
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, rec)
		}
		fmt.Fprintf(e.out, "ID:        %s\nTime:      %s\nConnector: %s (task %s)\nStage:     %s (%s)\nOrigin:    %s queue %s offset %s\nError:     %s: %s\n",
			rec.ID, utc(rec.Time), rec.Connector, rec.Task, rec.Stage, rec.ClassName,
			rec.Topic, rec.Partition, rec.Offset, rec.ExceptionClass, rec.ExceptionMessage)
		if rec.Replayed != nil {
			fmt.Fprintf(e.out, "Replayed:  %s (message %s)\n", utc(rec.Replayed.At), rec.Replayed.MsgID)
		}
		if isText(rec.Body) {
			fmt.Fprintf(e.out, "Body (%d bytes):\n%s\n", rec.BodySize, rec.Body)
		} else {
			// Quoted as the worker quotes such a body's preview (body_preview): raw, its
			// bytes would go to the terminal as they are, escape sequences and all.
			fmt.Fprintf(e.out, "Body (%d bytes, not text: quoted; -o json gives the bytes in base64):\n%q\n", rec.BodySize, rec.Body)
		}
		if rec.Stacktrace != "" {
			fmt.Fprintf(e.out, "Trace:\n%s", rec.Stacktrace)
		}
		return nil
	case "replay":
		// A refused record, or one left to a replay in progress elsewhere, is exit code 1,
		// after the result is printed: a script must not take a replay that left records
		// behind for a done one.
		var res restapi.DLQReplayResult
		var err error
		switch ids := e.args[2:]; {
		case len(ids) > 0 && dlqFlags.all:
			return usagef("dlq replay: record ids and --all together; name the records, or --all for every record")
		case len(ids) > 0:
			res, err = e.c.DLQReplay(e.ctx, name, ids, dlqFlags.force)
		case dlqFlags.all:
			res, err = e.c.DLQReplayAll(e.ctx, name, dlqFlags.force)
		default:
			// Every record only when asked for by name: `dlq replay c $(filter)` whose filter
			// found nothing must not replay the whole DLQ.
			return usagef("dlq replay: name the records to replay, or --all for every record")
		}
		if err != nil {
			return err
		}
		if e.json {
			if err := printJSON(e.out, res); err != nil {
				return err
			}
		} else {
			printReplay(e.out, res)
		}
		var left []string
		if n := len(res.Refused); n > 0 {
			left = append(left, fmt.Sprintf("%d DLQ record(s) refused", n))
		}
		if n := len(res.InProgress); n > 0 {
			left = append(left, fmt.Sprintf("%d DLQ record(s) left to another worker's replay in progress", n))
		}
		if len(left) > 0 {
			return fmt.Errorf("connector %s: %s, not sent", name, strings.Join(left, ", "))
		}
		return nil
	default:
		return usagef("dlq: unknown subcommand %q (list, show, replay)", sub)
	}
}

// printReplay prints a replay's result: the counts, then each record left to a replay in
// progress and each refused record, and why.
func printReplay(w io.Writer, res restapi.DLQReplayResult) {
	fmt.Fprintf(w, "replayed %d record(s)", len(res.Replayed))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "; skipped %d already replayed (--force to send again): %s", len(res.Skipped), strings.Join(res.Skipped, " "))
	}
	fmt.Fprintln(w)
	for _, r := range res.InProgress {
		fmt.Fprintf(w, "in progress %s: %s\n", r.ID, r.Reason)
	}
	for _, r := range res.Refused {
		fmt.Fprintf(w, "refused %s: %s\n", r.ID, r.Reason)
	}
}

// oneLine puts s on one line (newlines, carriage returns and tabs become spaces) and cuts it after n runes,
// marking the cut with "...". It counts runes, not bytes, so a cut never splits a character
// (tabwriter aligns columns by rune count too).
func oneLine(s string, n int) string {
	s = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "..."
	}
	return s
}

// isText reports whether b is UTF-8 text a terminal shows as it is: no control characters
// but newlines, tabs and carriage returns.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// terminalSafe is s, quoted when it is not text (isText); the worker quotes a body preview
// that is not UTF-8 already, but not one that is UTF-8 with control characters.
func terminalSafe(s string) string {
	if isText([]byte(s)) {
		return s
	}
	return strconv.Quote(s)
}

// utc formats a time as RFC 3339 in UTC, whatever zone the worker reported it in.
func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
