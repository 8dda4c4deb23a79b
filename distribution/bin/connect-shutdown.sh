#!/usr/bin/env bash
# connect-shutdown.sh [standalone|distributed|all] | --worker <workerId>
# Stops workers started by connect-standalone.sh and connect-distributed.sh, found by their pid
# files in $RMQCONNECT_PID_DIR (default <home>/run):
#   all (default)         connect-standalone.pid and every connect-distributed-<workerId>.pid
#   standalone            connect-standalone.pid
#   distributed           every connect-distributed-<workerId>.pid
#   --worker <workerId>   connect-distributed-<workerId>.pid alone
# Each worker gets SIGTERM (tasks commit positions and flush), all at once so that a cluster does
# not rebalance onto workers about to stop; then this waits up to RMQCONNECT_STOP_TIMEOUT seconds
# (default 60) and exits 1 naming every worker still running. A pid file whose process is gone, or
# is a worker started for another pid file (a reused pid; RMQCONNECT_PID_FILE), is removed.
# Nothing running is not an error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)
piddir=${RMQCONNECT_PID_DIR:-$home/run}
timeout=${RMQCONNECT_STOP_TIMEOUT:-60}

usage() { echo "usage: $(basename "$0") [standalone|distributed|all] | --worker <workerId>"; }

case "$timeout" in
  '' | *[!0-9]*) echo "connect-shutdown: RMQCONNECT_STOP_TIMEOUT=\"$timeout\" must be a number of seconds" >&2; exit 2 ;;
esac
worker=""
case "${1:-all}" in
  standalone) files=("$piddir/connect-standalone.pid") ;;
  distributed) files=("$piddir"/connect-distributed-*.pid) ;;
  all) files=("$piddir/connect-standalone.pid" "$piddir"/connect-distributed-*.pid) ;;
  --worker | --worker=*)
    if [ "$1" = --worker ]; then
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      worker=$2; shift
    else
      worker=${1#--worker=}
    fi
    if ! [[ $worker =~ ^[A-Za-z0-9_-]{1,100}$ ]]; then
      echo "connect-shutdown: workerId \"$worker\" must be 1-100 characters of letters, digits, '_' or '-'" >&2
      exit 2
    fi
    files=("$piddir/connect-distributed-$worker.pid") ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
if [ $# -gt 1 ]; then usage >&2; exit 2; fi

# shellcheck source=distribution/bin/pidcheck.sh
. "$here/pidcheck.sh"

# Signal every worker first, then wait for them together.
pids=() pidfiles=() names=() modes=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null || true)
  case "$(basename "$f")" in
    connect-standalone.pid) mode=standalone name="standalone worker" ;;
    *) mode=distributed name=$(basename "$f" .pid) name="worker ${name#connect-distributed-}" ;;
  esac
  if ! ours "$pid" "$mode" "$f"; then
    echo "connect-shutdown: removing stale pid file $f (no worker runs as pid ${pid:-?})"
    rm -f "$f"; continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  pids+=("$pid") pidfiles+=("$f") names+=("$name") modes+=("$mode")
done

deadline=$((SECONDS + timeout))
left=${#pids[@]}
while [ "$left" -gt 0 ]; do
  for i in "${!pids[@]}"; do
    [ -n "${pids[$i]}" ] || continue
    if ! ours "${pids[$i]}" "${modes[$i]}"; then
      # Only if no new worker has taken the pid file meanwhile.
      if [ "$(cat "${pidfiles[$i]}" 2>/dev/null || true)" = "${pids[$i]}" ]; then rm -f "${pidfiles[$i]}"; fi
      echo "connect-shutdown: stopped pid ${pids[$i]} (${names[$i]})"
      pids[i]="" left=$((left - 1))
    fi
  done
  if [ "$left" -eq 0 ] || [ $SECONDS -ge $deadline ]; then break; fi
  sleep 0.2
done

status=0
for i in ${pids[@]+"${!pids[@]}"}; do
  [ -n "${pids[$i]}" ] || continue
  echo "connect-shutdown: pid ${pids[$i]} (${names[$i]}) still running after ${timeout}s, pid file" \
    "${pidfiles[$i]} kept; run this again to wait longer, or force it with kill -9 ${pids[$i]}" \
    "(a source then re-reads what it read after its last position commit)" >&2
  status=1
done
if [ ${#pids[@]} -eq 0 ]; then
  if [ -n "$worker" ]; then
    echo "connect-shutdown: worker $worker is not running (no live $piddir/connect-distributed-$worker.pid)"
  else
    echo "connect-shutdown: no running worker found in $piddir"
  fi
fi
exit $status
