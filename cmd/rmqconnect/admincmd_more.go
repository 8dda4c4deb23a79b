package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/admin/client"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// maxDocLine bounds a plugin-config DOC cell; -o json has the whole text.
const maxDocLine = 80

// adminOffsets is `offsets get|set|reset <name>`.
func adminOffsets(e *adminEnv, o *adminOpts) error {
	const want = "want get <name> | set <name> -f <file.json> | reset <name>"
	if len(e.args) == 0 {
		return usagef("offsets: %s", want)
	}
	sub := e.args[0]
	switch sub {
	case "get", "set", "reset":
	default:
		return usagef("offsets: unknown subcommand %q (get, set, reset)", sub)
	}
	switch {
	case len(e.args) < 2:
		return usagef("offsets %s: missing argument: want <name>", sub)
	case len(e.args) > 2:
		return usagef("offsets %s: unexpected argument %q", sub, e.args[2])
	case sub == "set" && o.file == "":
		return usagef("offsets set: -f <file.json> is required")
	case sub != "set" && o.file != "":
		return usagef("offsets %s: -f is only for set", sub)
	}
	name := e.args[1]
	var (
		msg string
		err error
	)
	switch sub {
	case "get":
		offs, err := e.c.Offsets(e.ctx, name)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, offs)
		}
		return printOffsets(e.out, offs.Offsets)
	case "set":
		offsets, ferr := readOffsetsFile(o.file)
		if ferr != nil {
			return ferr
		}
		msg, err = e.c.AlterOffsets(e.ctx, name, offsets)
	case "reset":
		msg, err = e.c.ResetOffsets(e.ctx, name)
	}
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, map[string]string{"message": msg})
	}
	if msg == "" {
		msg = "offsets " + sub + " done"
	}
	_, err = fmt.Fprintf(e.out, "connector %s: %s\n", name, msg)
	return err
}

// readOffsetsFile reads {"offsets": [{"partition": {...}, "offset": {...}}, ...]}, as
// `offsets get -o json` prints it. Numbers keep their digits.
func readOffsetsFile(path string) ([]restapi.ConnectorOffset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("offsets file: %w", err)
	}
	var f struct {
		Offsets *[]restapi.ConnectorOffset `json:"offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("offsets file %s: want {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}]}: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("offsets file %s: data after the JSON object", path)
	}
	if f.Offsets == nil || len(*f.Offsets) == 0 {
		return nil, fmt.Errorf("offsets file %s: \"offsets\" is missing or empty; to reset every offset use `offsets reset`", path)
	}
	for i, off := range *f.Offsets {
		if len(off.Partition) == 0 {
			return nil, fmt.Errorf("offsets file %s: offsets[%d].partition: is required", path, i)
		}
	}
	return *f.Offsets, nil
}

// printOffsets is `offsets get`: a row per partition, each map as compact JSON (keys sorted),
// the form `offsets set` reads.
func printOffsets(w io.Writer, offs []restapi.ConnectorOffset) error {
	if len(offs) == 0 {
		_, err := io.WriteString(w, "no committed offsets\n")
		return err
	}
	rows := make([][]string, len(offs))
	for i, o := range offs {
		rows[i] = []string{compactJSON(o.Partition), compactJSON(o.Offset)}
	}
	return printTable(w, []string{"PARTITION", "OFFSET"}, rows)
}

func compactJSON(m map[string]any) string {
	if m == nil {
		return "null"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return string(b)
}

// adminValidate is `validate -f <file>`: the plugin is the file's connector.class. A config
// with errors is exit code 1, after its errors are printed; warnings leave the code alone.
func adminValidate(e *adminEnv, o *adminOpts) error {
	cf, err := loadConnectorFile(o.file, o.name)
	if err != nil {
		return err
	}
	plugin := strings.TrimSpace(cf.Config["connector.class"])
	if plugin == "" {
		return fmt.Errorf("connector config %s: connector.class: is required (it names the plugin to validate against)", o.file)
	}
	res, err := e.c.Validate(e.ctx, plugin, cf.Config)
	if err != nil {
		return err
	}
	if e.json {
		err = printJSON(e.out, res)
	} else {
		err = printValidation(e.out, plugin, res)
	}
	if err != nil {
		return err
	}
	if res.ErrorCount > 0 {
		return fmt.Errorf("connector config %s is not valid for %s: %d error(s)", o.file, plugin, res.ErrorCount)
	}
	return nil
}

// printValidation prints the keys with errors and the error count, then a line per warning
// (a key nothing reads). Warnings never make a config invalid.
func printValidation(w io.Writer, plugin string, res restapi.ConfigInfos) error {
	if err := printValidationErrors(w, plugin, res); err != nil {
		return err
	}
	for _, wn := range res.Warnings {
		line := "warning: " + oneLine(wn.Key, 200)
		if wn.Message != "" {
			line += ": " + oneLine(wn.Message, 200)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// printValidationErrors prints KEY VALUE ERRORS of the keys with errors and the error count,
// or that the config is valid.
func printValidationErrors(w io.Writer, plugin string, res restapi.ConfigInfos) error {
	if res.ErrorCount == 0 {
		_, err := fmt.Fprintf(w, "config valid for %s: 0 errors\n", plugin)
		return err
	}
	var rows [][]string
	for _, c := range res.Configs {
		if len(c.Value.Errors) == 0 {
			continue
		}
		key := c.Value.Name
		if key == "" {
			key = c.Definition.Name
		}
		value := "-"
		if c.Value.Value != nil {
			value = oneLine(*c.Value.Value, 60)
		}
		rows = append(rows, []string{key, value, oneLine(strings.Join(c.Value.Errors, "; "), 200)})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	if err := printTable(w, []string{"KEY", "VALUE", "ERRORS"}, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "error_count: %d\n", res.ErrorCount)
	return err
}

// adminPluginConfig is `plugin-config <plugin>`.
func adminPluginConfig(e *adminEnv, _ *adminOpts) error {
	defs, err := e.c.PluginConfig(e.ctx, e.args[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, defs)
	}
	rows := make([][]string, len(defs))
	for i, d := range defs {
		def := "-"
		if d.DefaultValue != nil {
			def = strconv.Quote(*d.DefaultValue)
		}
		rows[i] = []string{d.Name, orDash(d.Type), strconv.FormatBool(d.Required), def, docLine(d.Documentation)}
	}
	return printTable(e.out, []string{"NAME", "TYPE", "REQUIRED", "DEFAULT", "DOC"}, rows)
}

// docLine is the first line of a documentation text, cut to maxDocLine runes.
func docLine(s string) string {
	line := firstLine(s)
	if r := []rune(line); len(r) > maxDocLine {
		line = string(r[:maxDocLine-3]) + "..."
	}
	return line
}

// adminLoggers is `loggers`: every logger of the worker asked, sorted.
func adminLoggers(e *adminEnv, _ *adminOpts) error {
	ls, err := e.c.Loggers(e.ctx)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, ls)
	}
	names := make([]string, 0, len(ls))
	for n := range ls {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([][]string, len(names))
	for i, n := range names {
		rows[i] = []string{n, ls[n].Level}
	}
	return printTable(e.out, []string{"LOGGER", "LEVEL"}, rows)
}

// loggerLevels are the levels `logger <name> LEVEL` takes, as the worker does.
var loggerLevels = map[string]bool{"DEBUG": true, "INFO": true, "WARN": true, "WARNING": true, "ERROR": true}

// adminLogger is `logger <name> [LEVEL]`: one logger's level, or set it.
func adminLogger(e *adminEnv, o *adminOpts) error {
	switch {
	case len(e.args) == 0:
		return usagef("missing argument: want <name> [LEVEL]")
	case len(e.args) > 2:
		return usagef("unexpected argument %q", e.args[2])
	}
	name := e.args[0]
	if len(e.args) == 1 {
		l, err := e.c.Logger(e.ctx, name)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, l)
		}
		return printTable(e.out, []string{"LOGGER", "LEVEL"}, [][]string{{name, l.Level}})
	}
	level := strings.ToUpper(strings.TrimSpace(e.args[1]))
	if !loggerLevels[level] {
		return usagef("level %q: want DEBUG, INFO, WARN or ERROR", e.args[1])
	}
	if o.cluster {
		if err := e.c.SetLoggerCluster(e.ctx, name, level); err != nil {
			return err
		}
		return e.done("logger %s set to %s on every worker of the cluster", name, level)
	}
	affected, err := e.c.SetLogger(e.ctx, name, level)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, affected)
	}
	_, err = fmt.Fprintf(e.out, "logger %s set to %s on this worker; %d logger(s) changed: %s\n",
		name, level, len(affected), strings.Join(affected, ", "))
	return err
}

// adminTopics is `topics <name>`; -o json prints the API's {"<name>": {"topics": [...]}}.
func adminTopics(e *adminEnv, _ *adminOpts) error {
	name := e.args[0]
	topics, err := e.c.Topics(e.ctx, name)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, map[string]map[string][]string{name: {"topics": topics}})
	}
	rows := make([][]string, len(topics))
	for i, t := range topics {
		rows[i] = []string{t}
	}
	return printTable(e.out, []string{"TOPIC"}, rows)
}

// adminAllocated is `allocated [connectors|tasks]`: what runs on the worker asked
// (connectors when no argument).
func adminAllocated(e *adminEnv, _ *adminOpts) error {
	what := "connectors"
	switch len(e.args) {
	case 0:
	case 1:
		what = e.args[0]
	default:
		return usagef("unexpected argument %q", e.args[1])
	}
	switch what {
	case "connectors":
		conns, err := e.c.AllocatedConnectors(e.ctx)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, conns)
		}
		names := make([]string, 0, len(conns))
		for n := range conns {
			names = append(names, n)
		}
		sort.Strings(names)
		rows := make([][]string, len(names))
		for i, n := range names {
			rows[i] = []string{n, orDash(conns[n]["connector.class"])}
		}
		return printTable(e.out, []string{"CONNECTOR", "CLASS"}, rows)
	case "tasks":
		ts, err := e.c.AllocatedTasks(e.ctx)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, ts)
		}
		return printAllocatedTasks(e.out, ts)
	default:
		return usagef("allocated: unknown argument %q (connectors, tasks)", what)
	}
}

// printAllocatedTasks is a row per task, sorted by connector and task id; a task without a
// taskState shows its list's state.
func printAllocatedTasks(w io.Writer, ts client.AllocatedTasks) error {
	type row struct {
		t     client.AllocatedTask
		state string
	}
	var all []row
	for _, l := range []struct {
		state string
		tasks []client.AllocatedTask
	}{
		{"RUNNING", ts.RunningTasks}, {"PENDING", ts.PendingTasks}, {"STOPPING", ts.StoppingTasks},
		{"STOPPED", ts.StoppedTasks}, {"ERROR", ts.ErrorTasks},
	} {
		for _, t := range l.tasks {
			state := t.TaskState
			if state == "" {
				state = l.state
			}
			all = append(all, row{t, state})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].t.ConnectorName != all[j].t.ConnectorName {
			return all[i].t.ConnectorName < all[j].t.ConnectorName
		}
		return all[i].t.TaskID < all[j].t.TaskID
	})
	rows := make([][]string, len(all))
	for i, r := range all {
		rows[i] = []string{r.t.ConnectorName, strconv.Itoa(r.t.TaskID), r.state}
	}
	return printTable(w, []string{"CONNECTOR", "TASK", "STATE"}, rows)
}
