package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage() string {
	return `usage: rmqconnect <command> [flags]

commands:
  standalone -c <worker config>   run a standalone worker
  distributed -c <worker config>  run a worker of a cluster (peers sharing RocketMQ store topics)
  check-config -c <worker config> validate a worker config and exit
  schema-registry -c <config>     run a schema registry server stored in RocketMQ
  admin <command> [flags]         call a worker's REST API (rmqconnect admin help)
  version                         print the version
`
}

func run(args []string, stdout, stderr *os.File) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "standalone":
		return cmdStandalone(args[1:], stderr)
	case "distributed":
		return cmdDistributed(args[1:], stderr)
	case "admin":
		return cmdAdmin(args[1:], stdout, stderr)
	case "schema-registry":
		return cmdSchemaRegistry(args[1:], stderr)
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "rmqconnect %s (commit %s)\n", version, commit)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	default:
		fmt.Fprintf(stderr, "rmqconnect: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
}
