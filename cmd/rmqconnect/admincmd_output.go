package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rmqconnect/rmqconnect/admin/client"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// maxTraceLine bounds the trace shown in a table; -o json has the whole trace.
const maxTraceLine = 160

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printTable writes aligned columns, two spaces apart, with no trailing blanks.
func printTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// printList is `list`: one row per connector, sorted by name.
func printList(w io.Writer, all map[string]client.Expanded) error {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([][]string, 0, len(names))
	for _, n := range names {
		st := all[n].Status
		if st == nil {
			rows = append(rows, []string{n, "-", "-", "-", "-"})
			continue
		}
		running := 0
		for _, t := range st.Tasks {
			if t.State == restapi.StateRunning {
				running++
			}
		}
		rows = append(rows, []string{n, orDash(string(st.Type)), orDash(string(st.Connector.State)),
			fmt.Sprintf("%d/%d", running, len(st.Tasks)), orDash(st.Connector.WorkerID)})
	}
	return printTable(w, []string{"NAME", "TYPE", "STATE", "TASKS", "WORKER"}, rows)
}

// printStatus is `status`: the connector, then a row per task.
func printStatus(w io.Writer, st restapi.ConnectorStatus) error {
	head := [][]string{
		{"Connector:", st.Name},
		{"Type:", orDash(string(st.Type))},
		{"State:", orDash(string(st.Connector.State))},
		{"Worker:", orDash(st.Connector.WorkerID)},
	}
	if st.Connector.Trace != "" {
		head = append(head, []string{"Trace:", firstLine(st.Connector.Trace)})
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 1, ' ', 0)
	for _, r := range head {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	if len(st.Tasks) == 0 {
		_, err := io.WriteString(w, "no tasks\n")
		return err
	}
	return printTaskStates(w, st.Tasks...)
}

func printTaskStates(w io.Writer, tasks ...restapi.TaskState) error {
	rows := make([][]string, len(tasks))
	for i, t := range tasks {
		rows[i] = []string{strconv.Itoa(t.ID), orDash(string(t.State)), orDash(t.WorkerID), firstLine(t.Trace)}
	}
	return printTable(w, []string{"TASK", "STATE", "WORKER", "TRACE"}, rows)
}

func printConfig(w io.Writer, cfg map[string]string) error {
	return printTable(w, []string{"KEY", "VALUE"}, configRows(nil, cfg))
}

func printTasks(w io.Writer, tasks []restapi.TaskInfo) error {
	var rows [][]string
	for _, t := range tasks {
		rows = append(rows, configRows([]string{strconv.Itoa(t.ID.Task)}, t.Config)...)
	}
	return printTable(w, []string{"TASK", "KEY", "VALUE"}, rows)
}

// configRows is a row per key, sorted, each starting with prefix; a value is kept on one line.
func configRows(prefix []string, cfg map[string]string) [][]string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		v := strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(cfg[k])
		rows = append(rows, append(append([]string{}, prefix...), k, v))
	}
	return rows
}

func printPlugins(w io.Writer, ps []restapi.PluginInfo) error {
	rows := make([][]string, len(ps))
	for i, p := range ps {
		rows[i] = []string{p.Class, orDash(p.Type), orDash(p.Version), strings.Join(p.Aliases, ",")}
	}
	return printTable(w, []string{"CLASS", "TYPE", "VERSION", "ALIASES"}, rows)
}

func printHealth(w io.Writer, h client.Health) error {
	rows := [][]string{{"Status:", h.Status}, {"Worker:", orDash(h.WorkerID)}}
	if h.Version != "" {
		rows = append(rows, []string{"Version:", h.Version})
	}
	if h.Message != "" {
		rows = append(rows, []string{"Message:", firstLine(h.Message)})
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 1, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// firstLine is the first non-blank line of a trace, cut to maxTraceLine runes.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " "))
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > maxTraceLine {
			line = string(r[:maxTraceLine-3]) + "..."
		}
		return line
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
