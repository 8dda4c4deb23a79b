package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rmqconnect/rmqconnect/admin/client"
	"github.com/rmqconnect/rmqconnect/conf"
)

const defaultAdminURL = "http://127.0.0.1:8082"

func adminUsage() string {
	return `usage: rmqconnect admin [global flags] <command> [flags] [args]

Calls the admin REST API of any worker.

global flags (also accepted after the command):
  --url URL          worker REST address (default $RMQCONNECT_URL, else ` + defaultAdminURL + `)
  -o table|json      output format (default table); json prints the API's JSON for scripts
  --timeout DURATION bound on each request, e.g. 10s (default 30s; 0 = none)
  --user NAME        basic-auth user (default $RMQCONNECT_USER)
  --password PASS    basic-auth password (default $RMQCONNECT_PASSWORD; prefer the variable:
                     a flag shows in the process list and the shell history)
  --cacert FILE      PEM certificate(s) to trust for an https URL, besides the system's CAs
  --insecure         do not verify the worker's TLS certificate (a warning is printed)

commands:
  list                          connectors: NAME TYPE STATE TASKS(running/total) WORKER
  status <name>                 connector and task states, workers and the first line of each trace
  config <name>                 the connector's config
  tasks <name>                  the task configs
  task-status <name> <id>       one task's state
  create -f <file> [--name N] [--paused|--stopped]
                                create a connector from a .json or .properties/.conf file
                                (the name comes from the file's "name" key, or --name)
  update -f <file> [--name N]   create or replace a connector's config (PUT .../config)
  pause <name>                  pause a connector
  resume <name>                 resume a paused or stopped connector
  stop <name>                   stop a connector's tasks, keeping its config
  restart <name> [--include-tasks] [--only-failed]
                                restart a connector and, with the flags, its (failed) tasks
  restart-task <name> <id>      restart one task
  delete <name>                 delete a connector
  plugins [--all]               connector plugins (--all adds transforms and converters)
  cluster                       the live workers (GET /getClusterInfo)
  health                        whether the worker is up (GET /health)
  dlq list <name> [--after ID] [--limit N]
                                the connector's dead-letter records, oldest first
  dlq show <name> <id>          one record: error context, body and trace
  dlq replay <name> (id... | --all) [--force]
                                re-send the records named (every record with --all) to their
                                original topic;
                                records replayed before are skipped unless --force; exit 1
                                if the worker refused any
  offsets get <name>            committed offsets: PARTITION OFFSET (source positions or the
                                sink's consumer-group offsets)
  offsets set <name> -f <file.json>
                                set offsets from {"offsets":[{"partition":{..},"offset":{..}}]}
                                (as offsets get -o json prints); the connector must be STOPPED
  offsets reset <name>          reset every offset; the connector must be STOPPED
  validate -f <file> [--name N]
                                check a connector file against its connector.class plugin:
                                KEY VALUE ERRORS of the keys with errors, then a warning
                                line per key nothing reads; exit 1 if any error
  plugin-config <plugin>        a plugin's config keys: NAME TYPE REQUIRED DEFAULT DOC
  loggers                       the worker's log levels: LOGGER LEVEL
  logger <name> [LEVEL] [--cluster]
                                one logger's level, or set it (DEBUG, INFO, WARN, ERROR) on
                                this worker (on every worker with --cluster) for the logger
                                and those below it
  topics <name>                 the topics the connector has used
  allocated [connectors|tasks]  what runs on this worker (default connectors)
  help                          this text

exit codes:
  0  success
  1  the worker answered with an error (the message shows the HTTP status and the worker's
     message; 401: wrong or missing --user/--password), could not be reached, or a connector
     or offsets file or --cacert could not be read; health: starting or unhealthy; validate:
     the config has errors; dlq replay: records were refused
  2  usage error: unknown command or flag, missing or extra argument, bad flag value
`
}

// adminGlobals are the flags every admin command takes.
type adminGlobals struct {
	url      string
	output   string
	timeout  time.Duration
	user     string
	password secretFlag
	cacert   string
	insecure bool
}

func (g *adminGlobals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "worker REST address")
	fs.StringVar(&g.output, "o", g.output, "output format: table or json")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "bound on each request")
	fs.StringVar(&g.user, "user", g.user, "basic-auth user (default $RMQCONNECT_USER)")
	fs.Var(&g.password, "password", "basic-auth `password` (default $RMQCONNECT_PASSWORD, which is safer than the flag)")
	fs.StringVar(&g.cacert, "cacert", g.cacert, "PEM certificate(s) to trust for https, besides the system's CAs")
	fs.BoolVar(&g.insecure, "insecure", g.insecure, "skip verification of the worker's TLS certificate")
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// secretFlag is a flag value that usage output never shows: its default may come from
// $RMQCONNECT_PASSWORD.
type secretFlag string

func (s *secretFlag) String() string     { return "" }
func (s *secretFlag) Set(v string) error { *s = secretFlag(v); return nil }

// clientOptions turns the access flags into client options; warnings go to stderr.
func (g *adminGlobals) clientOptions(stderr io.Writer) ([]client.Option, error) {
	opts := []client.Option{client.WithTimeout(g.timeout)}
	switch {
	case g.user != "":
		opts = append(opts, client.WithBasicAuth(g.user, string(g.password)))
		if u, err := url.Parse(g.url); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
			fmt.Fprintln(stderr, "rmqconnect admin: warning: the password crosses the network unencrypted; use an https URL")
		}
	case g.password != "":
		return nil, usagef("--password (or $RMQCONNECT_PASSWORD) without --user (or $RMQCONNECT_USER)")
	}
	if g.cacert != "" && g.insecure {
		return nil, usagef("--cacert and --insecure exclude each other")
	}
	switch {
	case g.insecure:
		fmt.Fprintln(stderr, "rmqconnect admin: warning: --insecure: the worker's TLS certificate is not verified")
		opts = append(opts, client.WithTLSConfig(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // asked for with --insecure
	case g.cacert != "":
		pem, err := os.ReadFile(g.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in the file", g.cacert)
		}
		opts = append(opts, client.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	return opts, nil
}

// adminEnv is what a command runs with.
type adminEnv struct {
	ctx  context.Context
	c    *client.Client
	out  io.Writer
	json bool
	args []string // positional arguments, as many as the command's nargs
}

// adminCommand is one `rmqconnect admin` command. args is its synopsis after the name; nargs
// the number of positional arguments it takes; flags registers its own flags.
type adminCommand struct {
	args  string
	nargs int
	flags func(fs *flag.FlagSet, o *adminOpts)
	run   func(e *adminEnv, o *adminOpts) error
}

// adminOpts holds the command-specific flags.
type adminOpts struct {
	file, name               string
	paused, stopped          bool
	includeTasks, onlyFailed bool
	all                      bool
	after                    string
	limit                    int
	force                    bool
	cluster                  bool
}

func fileFlags(fs *flag.FlagSet, o *adminOpts) {
	fs.StringVar(&o.file, "f", "", "connector config file (.json, .properties, .conf)")
	fs.StringVar(&o.name, "name", "", "connector name (overrides the file's)")
}

var adminCommands = map[string]adminCommand{
	"list":        {run: adminList},
	"status":      {args: "<name>", nargs: 1, run: adminStatus},
	"config":      {args: "<name>", nargs: 1, run: adminConfig},
	"tasks":       {args: "<name>", nargs: 1, run: adminTasks},
	"task-status": {args: "<name> <id>", nargs: 2, run: adminTaskStatus},
	"create": {args: "-f <file> [--name N] [--paused|--stopped]", flags: func(fs *flag.FlagSet, o *adminOpts) {
		fileFlags(fs, o)
		fs.BoolVar(&o.paused, "paused", false, "create the connector paused")
		fs.BoolVar(&o.stopped, "stopped", false, "create the connector stopped")
	}, run: adminCreate},
	"update": {args: "-f <file> [--name N]", flags: fileFlags, run: adminUpdate},
	"pause":  {args: "<name>", nargs: 1, run: adminTarget("pause", (*client.Client).Pause)},
	"resume": {args: "<name>", nargs: 1, run: adminTarget("resume", (*client.Client).Resume)},
	"stop":   {args: "<name>", nargs: 1, run: adminTarget("stop", (*client.Client).Stop)},
	"restart": {args: "<name> [--include-tasks] [--only-failed]", nargs: 1, flags: func(fs *flag.FlagSet, o *adminOpts) {
		fs.BoolVar(&o.includeTasks, "include-tasks", false, "restart the tasks too")
		fs.BoolVar(&o.onlyFailed, "only-failed", false, "restart only what has FAILED")
	}, run: adminRestart},
	"restart-task": {args: "<name> <id>", nargs: 2, run: adminRestartTask},
	"delete":       {args: "<name>", nargs: 1, run: adminDelete},
	"plugins": {args: "[--all]", flags: func(fs *flag.FlagSet, o *adminOpts) {
		fs.BoolVar(&o.all, "all", false, "include transforms and converters")
	}, run: adminPlugins},
	"cluster": {run: adminCluster},
	"health":  {run: adminHealth},
	// nargs -1: the subcommand checks its own arguments.
	"dlq": {args: "list <name> [--after ID] [--limit N] | show <name> <id> | replay <name> (id... | --all) [--force]", nargs: -1,
		flags: func(fs *flag.FlagSet, o *adminOpts) {
			fs.StringVar(&o.after, "after", "", "list records after this id")
			fs.IntVar(&o.limit, "limit", 50, "most records to list")
			fs.BoolVar(&o.force, "force", false, "replay records that were replayed before")
			fs.BoolVar(&o.all, "all", false, "replay every record of the DLQ")
		}, run: adminDLQ},
	"offsets": {args: "get <name> | set <name> -f <file.json> | reset <name>", nargs: -1,
		flags: func(fs *flag.FlagSet, o *adminOpts) {
			fs.StringVar(&o.file, "f", "", `offsets file for set: {"offsets": [...]}`)
		}, run: adminOffsets},
	"validate":      {args: "-f <file> [--name N]", flags: fileFlags, run: adminValidate},
	"plugin-config": {args: "<plugin>", nargs: 1, run: adminPluginConfig},
	"loggers":       {run: adminLoggers},
	"logger": {args: "<name> [LEVEL] [--cluster]", nargs: -1, flags: func(fs *flag.FlagSet, o *adminOpts) {
		fs.BoolVar(&o.cluster, "cluster", false, "set the level on every worker of the cluster (scope=cluster)")
	}, run: adminLogger},
	"topics":    {args: "<name>", nargs: 1, run: adminTopics},
	"allocated": {args: "[connectors|tasks]", nargs: -1, run: adminAllocated},
}

// usageError is a command line the CLI rejects before calling the worker (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// cmdAdmin runs `rmqconnect admin ...` and returns the exit code: 0 success, 1 an API or
// transport error, 2 a usage error.
func cmdAdmin(args []string, stdout, stderr io.Writer) int {
	g := &adminGlobals{url: os.Getenv("RMQCONNECT_URL"), output: "table", timeout: client.DefaultTimeout,
		user: os.Getenv("RMQCONNECT_USER"), password: secretFlag(os.Getenv("RMQCONNECT_PASSWORD"))}
	if g.url == "" {
		g.url = defaultAdminURL
	}
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage()) }
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, adminUsage())
		return 2
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		fmt.Fprint(stdout, adminUsage())
		return 0
	}
	cmd, ok := adminCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "rmqconnect admin: unknown command %q\n\n%s", name, adminUsage())
		return 2
	}

	e := &adminEnv{out: stdout}
	o := &adminOpts{}
	cfs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	cfs.SetOutput(stderr)
	cfs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rmqconnect admin %s %s\n\nflags:\n", name, cmd.args)
		cfs.PrintDefaults()
	}
	g.register(cfs)
	if cmd.flags != nil {
		cmd.flags(cfs, o)
	}
	pos, err := parseInterspersed(cfs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		if client.IsUnauthorized(err) {
			fmt.Fprintf(stderr, "rmqconnect admin %s: authentication failed (401): check --user/--password "+
				"(or $RMQCONNECT_USER/$RMQCONNECT_PASSWORD)\n", name)
			return 1
		}
		fmt.Fprintf(stderr, "rmqconnect admin %s: %v\n", name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "usage: rmqconnect admin %s %s\n", name, cmd.args)
			return 2
		}
		var unknownCA x509.UnknownAuthorityError
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Fprintf(stderr, "is a worker listening at %s? set --url or $RMQCONNECT_URL\n", g.url)
		case errors.As(err, &unknownCA):
			fmt.Fprintln(stderr, "the worker's certificate is not from a trusted CA: pass it (or its CA) with --cacert <pem>")
		}
		return 1
	}
	switch {
	case len(pos) < cmd.nargs:
		return fail(usagef("missing argument: want %s", cmd.args))
	case cmd.nargs >= 0 && len(pos) > cmd.nargs:
		return fail(usagef("unexpected argument %q", pos[cmd.nargs]))
	case g.output != "table" && g.output != "json":
		return fail(usagef("-o %q: want table or json", g.output))
	case g.timeout < 0:
		return fail(usagef("--timeout %s: must not be negative", g.timeout))
	}
	opts, err := g.clientOptions(stderr)
	if err != nil {
		return fail(err)
	}
	c, err := client.New(g.url, opts...)
	if err != nil {
		return fail(usagef("--url: %v", err))
	}
	e.ctx, e.c, e.json, e.args = context.Background(), c, g.output == "json", pos
	if err := cmd.run(e, o); err != nil {
		return fail(err)
	}
	return 0
}

// parseInterspersed parses flags anywhere among the arguments (`status lines -o json`) and
// returns the positional ones; everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func adminList(e *adminEnv, _ *adminOpts) error {
	if e.json {
		all, err := e.c.ListExpanded(e.ctx, client.ExpandStatus, client.ExpandInfo)
		if err != nil {
			return err
		}
		return printJSON(e.out, all)
	}
	all, err := e.c.ListExpanded(e.ctx, client.ExpandStatus)
	if err != nil {
		return err
	}
	return printList(e.out, all)
}

func adminStatus(e *adminEnv, _ *adminOpts) error {
	st, err := e.c.Status(e.ctx, e.args[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, st)
	}
	return printStatus(e.out, st)
}

func adminConfig(e *adminEnv, _ *adminOpts) error {
	cfg, err := e.c.Config(e.ctx, e.args[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, cfg)
	}
	return printConfig(e.out, cfg)
}

func adminTasks(e *adminEnv, _ *adminOpts) error {
	tasks, err := e.c.Tasks(e.ctx, e.args[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, tasks)
	}
	return printTasks(e.out, tasks)
}

func adminTaskStatus(e *adminEnv, _ *adminOpts) error {
	id, err := taskArg(e.args[1])
	if err != nil {
		return err
	}
	st, err := e.c.TaskStatus(e.ctx, e.args[0], id)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, st)
	}
	return printTaskStates(e.out, st)
}

func adminCreate(e *adminEnv, o *adminOpts) error {
	if o.paused && o.stopped {
		return usagef("--paused and --stopped exclude each other")
	}
	cf, err := loadConnectorFile(o.file, o.name)
	if err != nil {
		return err
	}
	var initial client.InitialState
	switch {
	case o.paused:
		initial = client.InitialPaused
	case o.stopped:
		initial = client.InitialStopped
	}
	info, err := e.c.Create(e.ctx, cf.Name, cf.Config, initial)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, info)
	}
	state := ""
	if initial != "" {
		state = ", " + strings.ToLower(string(initial))
	}
	_, err = fmt.Fprintf(e.out, "connector %s created (%s%s)\n", info.Name, info.Type, state)
	return err
}

func adminUpdate(e *adminEnv, o *adminOpts) error {
	cf, err := loadConnectorFile(o.file, o.name)
	if err != nil {
		return err
	}
	info, created, err := e.c.PutConfig(e.ctx, cf.Name, cf.Config)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, info)
	}
	what := "updated; it restarts with the new config"
	if created {
		what = "created"
	}
	_, err = fmt.Fprintf(e.out, "connector %s %s\n", info.Name, what)
	return err
}

func adminTarget(verb string, call func(*client.Client, context.Context, string) error) func(*adminEnv, *adminOpts) error {
	return func(e *adminEnv, _ *adminOpts) error {
		if err := call(e.c, e.ctx, e.args[0]); err != nil {
			return err
		}
		return e.done("connector %s: %s requested", e.args[0], verb)
	}
}

func adminRestart(e *adminEnv, o *adminOpts) error {
	st, err := e.c.Restart(e.ctx, e.args[0], o.includeTasks, o.onlyFailed)
	if err != nil {
		return err
	}
	if st == nil {
		return e.done("connector %s: restart requested", e.args[0])
	}
	if e.json {
		return printJSON(e.out, st)
	}
	if _, err := fmt.Fprintf(e.out, "connector %s: restart requested\n\n", e.args[0]); err != nil {
		return err
	}
	return printStatus(e.out, *st)
}

func adminRestartTask(e *adminEnv, _ *adminOpts) error {
	id, err := taskArg(e.args[1])
	if err != nil {
		return err
	}
	if err := e.c.RestartTask(e.ctx, e.args[0], id); err != nil {
		return err
	}
	return e.done("connector %s task %d: restart requested", e.args[0], id)
}

func adminDelete(e *adminEnv, _ *adminOpts) error {
	if err := e.c.Delete(e.ctx, e.args[0]); err != nil {
		return err
	}
	return e.done("connector %s deleted", e.args[0])
}

func adminPlugins(e *adminEnv, o *adminOpts) error {
	ps, err := e.c.Plugins(e.ctx, o.all)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, ps)
	}
	return printPlugins(e.out, ps)
}

func adminCluster(e *adminEnv, _ *adminOpts) error {
	workers, err := e.c.ClusterInfo(e.ctx)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, workers)
	}
	rows := make([][]string, len(workers))
	for i, w := range workers {
		rows[i] = []string{w}
	}
	return printTable(e.out, []string{"WORKER"}, rows)
}

// adminHealth prints the worker's health; a worker that is starting or unhealthy is exit code 1,
// with its health printed as for a healthy one and the reason on stderr.
func adminHealth(e *adminEnv, _ *adminOpts) error {
	h, err := e.c.Health(e.ctx)
	if err != nil && h.Status == "" {
		return err
	}
	var perr error
	if e.json {
		perr = printJSON(e.out, h)
	} else {
		perr = printHealth(e.out, h)
	}
	if err != nil {
		return err
	}
	return perr
}

// done reports a request that has no body to print; json output prints nothing.
func (e *adminEnv) done(format string, args ...any) error {
	if e.json {
		return nil
	}
	_, err := fmt.Fprintf(e.out, format+"\n", args...)
	return err
}

func taskArg(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, usagef("task id %q: want a non-negative integer", s)
	}
	return id, nil
}

// loadConnectorFile reads a connector config with conf.LoadConnector; name, when given,
// overrides the file's name. LoadConnector insists the file names the connector, so a file
// without a name is read again from a copy with the name added.
func loadConnectorFile(path, name string) (*conf.ConnectorFile, error) {
	if path == "" {
		return nil, usagef("-f <file> is required")
	}
	cf, err := conf.LoadConnector(path)
	if err != nil && name != "" {
		if named, nerr := loadNamed(path, name); nerr == nil {
			cf, err = named, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if name != "" {
		cf.Name = name
		cf.Config["name"] = name
	}
	return cf, nil
}

// loadNamed loads a copy of path with "name" set to name.
func loadNamed(path, name string) (*conf.ConnectorFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		raw["name"] = name // LoadConnector takes the top-level name in both JSON shapes
		if data, err = json.Marshal(raw); err != nil {
			return nil, err
		}
	default:
		if strings.ContainsAny(name, "\r\n\\") {
			return nil, fmt.Errorf("name %q cannot be written to a properties file", name)
		}
		data = append(data, []byte("\nname="+name+"\n")...)
	}
	dir, err := os.MkdirTemp("", "rmqconnect-admin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, err
	}
	return conf.LoadConnector(tmp)
}
