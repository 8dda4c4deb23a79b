#!/usr/bin/env bash
# connect-shutdown.sh [standalone|distributed|all] — stops workers started by the
# connect-*.sh scripts: SIGTERM (tasks commit positions and flush), then waits up to
# RMQCONNECT_STOP_TIMEOUT seconds (default 60) before giving up with an error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)
piddir=${RMQCONNECT_PID_DIR:-$home/run}
timeout=${RMQCONNECT_STOP_TIMEOUT:-60}
which=${1:-all}
case "$which" in
  standalone|distributed) files=("$piddir/connect-$which.pid") ;;
  all) files=("$piddir"/connect-*.pid) ;;
  *) echo "usage: $(basename "$0") [standalone|distributed|all]" >&2; exit 2 ;;
esac
status=0
found=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "connect-shutdown: removing stale pid file $f (process $pid is gone)"
    rm -f "$f"; continue
  fi
  found=1
  kill -TERM "$pid"
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "connect-shutdown: pid $pid still running after ${timeout}s" >&2
      status=1; break
    fi
    sleep 0.2
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$f"; echo "connect-shutdown: stopped pid $pid"
  fi
done
[ "$found" = 1 ] || echo "connect-shutdown: no running worker found in $piddir"
exit $status
