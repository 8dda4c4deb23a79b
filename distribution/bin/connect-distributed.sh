#!/usr/bin/env bash
# connect-distributed.sh [--daemon] -c <worker config>
# Runs one worker of a distributed rmqconnect cluster. Arguments after --daemon pass through to
# `rmqconnect distributed`. Several workers may run on one host, so the pid file and the daemon
# log are named after the worker's id, found as the worker finds it: $RMQCONNECT_WORKERID, else
# the config file's workerId (YAML `workerId: x`, properties `workerId=x`, JSON), else DefaultWorker.
#   pid file    $RMQCONNECT_PID_DIR/connect-distributed-<workerId>.pid (default <home>/run)
#   daemon log  $RMQCONNECT_LOG_DIR/connect-distributed-<workerId>.out (default <home>/logs)
# A worker whose pid file names a live worker is not started twice; a pid file left by a worker
# that is gone is replaced, and so is one whose pid another worker runs as now (the scripts run
# each worker with RMQCONNECT_PID_FILE naming its pid file). With --daemon the script returns once the worker runs and its REST API
# answers GET /health, up to $RMQCONNECT_START_TIMEOUT seconds (default 30; 0: no wait); a worker
# that exits first (a bad config, its port taken) or does not answer in time is stopped, its pid
# file removed, the tail of its log printed, and the script exits 1.
# connect-shutdown.sh [--worker <workerId>] stops workers gracefully.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)

prog=connect-distributed
die() { echo "$prog: $*" >&2; exit 1; }

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  echo "usage: $(basename "$0") [--daemon] -c <worker config>"
  exit 0
fi
daemon=0
if [ "${1:-}" = "--daemon" ]; then daemon=1; shift; fi

bin=${RMQCONNECT_BIN:-}
if [ -z "$bin" ]; then
  for cand in "$home/rmqconnect" "$home/bin/rmqconnect" "$home/../bin/rmqconnect"; do
    if [ -x "$cand" ]; then bin=$cand; break; fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  die "rmqconnect binary not found (run 'make build' or set RMQCONNECT_BIN)"
fi

# shellcheck source=distribution/bin/pidcheck.sh
. "$here/pidcheck.sh"

config=$(config_arg "$@") || die "-c needs a worker config file"
id=$(trim "${RMQCONNECT_WORKERID:-}") from="RMQCONNECT_WORKERID"
if [ -n "$config" ]; then
  if [ ! -f "$config" ] || [ ! -r "$config" ]; then die "worker config $config: not a readable file"; fi
  config_format "$config" >/dev/null ||
    die "worker config $config: unsupported extension (use .yaml, .yml, .json, .properties or .conf)"
  if [ -z "$id" ]; then id=$(config_value "$config" workerId) from="workerId in $config"; fi
fi
if [ -z "$id" ]; then id=DefaultWorker from="the default workerId"; fi
# The worker accepts no other ids, and the id becomes part of file names.
[[ $id =~ ^[A-Za-z0-9_-]{1,100}$ ]] ||
  die "workerId \"$id\" ($from) must be 1-100 characters of letters, digits, '_' or '-'"

piddir=${RMQCONNECT_PID_DIR:-$home/run}
mkdir -p "$piddir"
pidfile="$piddir/connect-distributed-$id.pid"
# Starts in one pid directory take turns, so two starts of one worker cannot both pass the check.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$piddir"
  flock -w 30 9 || die "another start in $piddir has held its lock for 30s"
fi
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if ours "$pid" distributed "$pidfile"; then
    die "worker $id is already running (pid $pid, $pidfile)"
  fi
  echo "connect-distributed: removing stale pid file $pidfile (no worker runs as pid ${pid:-?})" >&2
  rm -f "$pidfile"
fi

if [ "$daemon" = 1 ]; then
  logdir=${RMQCONNECT_LOG_DIR:-$home/logs}
  mkdir -p "$logdir"
  log="$logdir/connect-distributed-$id.out"
  start_timeout >/dev/null # a bad value is refused before anything starts
  log_from=$(log_size "$log")
  RMQCONNECT_PID_FILE=$(real_path "$pidfile") nohup "$bin" distributed "$@" >>"$log" 2>&1 </dev/null 9<&- &
  pid=$!
  echo "$pid" >"$pidfile"
  # With the pid file written, a second start of this worker is refused: other starts need not
  # wait for this one's worker to come up.
  exec 9<&-
  wait_started distributed "$pid" "$pidfile" "$log" "$log_from" "$config" "$id"
  echo "$prog: started worker $id (pid $pid)${rest_url:+, REST $rest_url ($rest_status)}, log $log"
  exit 0
fi
echo $$ >"$pidfile"
RMQCONNECT_PID_FILE=$(real_path "$pidfile") exec "$bin" distributed "$@" 9<&-
