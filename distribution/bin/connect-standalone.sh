#!/usr/bin/env bash
# connect-standalone.sh [--daemon] -c <worker config> [connector config files...]
# Runs a standalone rmqconnect worker. Arguments after --daemon pass through to
# `rmqconnect standalone`. The pid goes to $RMQCONNECT_PID_DIR/connect-standalone.pid
# (default <home>/run); connect-shutdown.sh stops it gracefully. A pid file that names a live
# worker refuses the start; one left by a worker that is gone is replaced, and so is one whose
# pid a worker started for another pid file runs as now (RMQCONNECT_PID_FILE, set for it).
# Starts in one pid directory take turns (connect-distributed.sh's too), so two starts at once
# cannot both pass that check. With --daemon the script returns once the worker runs and its
# REST API answers GET /health, up to $RMQCONNECT_START_TIMEOUT seconds (default 30; 0: no
# wait); a worker that exits first (a bad config, its port taken) or does not answer in time is
# stopped, its pid file removed, the tail of its log printed, and the script exits 1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)
prog=connect-standalone
die() { echo "$prog: $*" >&2; exit 1; }
# shellcheck source=distribution/bin/pidcheck.sh
. "$here/pidcheck.sh"

bin=${RMQCONNECT_BIN:-}
if [ -z "$bin" ]; then
  for cand in "$home/rmqconnect" "$home/bin/rmqconnect" "$home/../bin/rmqconnect"; do
    if [ -x "$cand" ]; then bin=$cand; break; fi
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "connect-standalone: rmqconnect binary not found (run 'make build' or set RMQCONNECT_BIN)" >&2; exit 1; }

piddir=${RMQCONNECT_PID_DIR:-$home/run}
mkdir -p "$piddir"
pidfile="$piddir/connect-standalone.pid"
# Held until this start's pid file is written.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$piddir"
  flock -w 30 9 || die "another start in $piddir has held its lock for 30s"
fi
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if ours "$pid" standalone "$pidfile"; then
    die "already running (pid $pid, $pidfile)"
  fi
  echo "connect-standalone: removing stale pid file $pidfile (no worker runs as pid ${pid:-?})" >&2
  rm -f "$pidfile"
fi

daemon=0
if [ "${1:-}" = "--daemon" ]; then daemon=1; shift; fi
if [ "$daemon" = 1 ]; then
  logdir=${RMQCONNECT_LOG_DIR:-$home/logs}
  mkdir -p "$logdir"
  log="$logdir/connect-standalone.out"
  start_timeout >/dev/null # a bad value is refused before anything starts
  config=$(config_arg "$@") || true # a -c without a file: the worker says so
  id=$(trim "${RMQCONNECT_WORKERID:-}")
  if [ -z "$id" ] && [ -n "$config" ]; then id=$(config_value "$config" workerId); fi
  log_from=$(log_size "$log")
  RMQCONNECT_PID_FILE=$(real_path "$pidfile") nohup "$bin" standalone "$@" >>"$log" 2>&1 </dev/null 9<&- &
  pid=$!
  echo "$pid" >"$pidfile"
  # With the pid file written, a second start is refused: other starts need not wait for this
  # one's worker to come up.
  exec 9<&-
  wait_started standalone "$pid" "$pidfile" "$log" "$log_from" "$config" "${id:-DefaultWorker}"
  echo "$prog: started (pid $pid)${rest_url:+, REST $rest_url ($rest_status)}, log $log"
  exit 0
fi
echo $$ >"$pidfile"
RMQCONNECT_PID_FILE=$(real_path "$pidfile") exec "$bin" standalone "$@" 9<&-
