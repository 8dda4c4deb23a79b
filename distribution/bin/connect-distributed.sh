#!/usr/bin/env bash
# connect-distributed.sh [--daemon] -c <worker config>
# Runs one worker of a distributed rmqconnect cluster. Arguments after --daemon pass through to
# `rmqconnect distributed`. Several workers may run on one host, so the pid file and the daemon
# log are named after the worker's id, found as the worker finds it: $RMQCONNECT_WORKERID, else
# the config file's workerId (YAML `workerId: x`, properties `workerId=x`, JSON), else DefaultWorker.
#   pid file    $RMQCONNECT_PID_DIR/connect-distributed-<workerId>.pid (default <home>/run)
#   daemon log  $RMQCONNECT_LOG_DIR/connect-distributed-<workerId>.out (default <home>/logs)
# A worker whose pid file names a live worker is not started twice; a pid file left by a worker
# that is gone is replaced. connect-shutdown.sh [--worker <workerId>] stops workers gracefully.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)

die() { echo "connect-distributed: $*" >&2; exit 1; }

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

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s\n' "${s%"${s##*[![:space:]]}"}"; }

# file_worker_id FILE prints the workerId FILE sets (nothing when it sets none), reading the
# formats conf.Load reads: keys match case-insensitively and the last one wins.
file_worker_id() {
  local file=$1 format line id="" v
  case "$(printf '%s' "$file" | tr '[:upper:]' '[:lower:]')" in
    *.yaml | *.yml) format=yaml ;;
    *.properties | *.conf | *.cfg) format=properties ;;
    *.json) format=json ;;
    *) die "worker config $file: unsupported extension (use .yaml, .yml, .json, .properties or .conf)" ;;
  esac
  shopt -s nocasematch
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case "$format" in
      yaml) # workerId: x | "x" | 'x', maybe followed by a # comment
        [[ $line =~ ^[[:space:]]*workerid[[:space:]]*:([[:space:]]+(.*))?$ ]] || continue
        v=$(trim "${BASH_REMATCH[2]%%[[:space:]]#*}")
        case "$v" in '#'*) v="" ;; esac
        if [[ $v =~ ^\"(.*)\"$ || $v =~ ^\'(.*)\'$ ]]; then v=${BASH_REMATCH[1]}; fi
        id=$v ;;
      properties) # workerId=x | workerId: x | workerId x
        [[ $line =~ ^[[:space:]]*workerid([=:[:space:]].*)?$ ]] || continue
        v=$(trim "${BASH_REMATCH[1]}")
        case "$v" in [=:]*) v=${v:1} ;; esac
        id=$(trim "$v") ;;
      json)
        [[ $line =~ \"workerid\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]] || continue
        id=$(trim "${BASH_REMATCH[1]}") ;;
    esac
  done <"$file"
  shopt -u nocasematch
  printf '%s\n' "$id"
}

# The config file is the last -c flag, in any form Go's flag package accepts.
config="" want=0
for arg in "$@"; do
  if [ "$want" = 1 ]; then config=$arg; want=0; continue; fi
  case "$arg" in
    --) break ;;
    -c|--c) want=1 ;;
    -c=*|--c=*) config=${arg#*=} ;;
  esac
done
[ "$want" = 0 ] || die "-c needs a worker config file"

id=$(trim "${RMQCONNECT_WORKERID:-}") from="RMQCONNECT_WORKERID"
if [ -n "$config" ]; then
  if [ ! -f "$config" ] || [ ! -r "$config" ]; then die "worker config $config: not a readable file"; fi
  if [ -z "$id" ]; then id=$(file_worker_id "$config") from="workerId in $config"; fi
fi
if [ -z "$id" ]; then id=DefaultWorker from="the default workerId"; fi
# The worker accepts no other ids, and the id becomes part of file names.
[[ $id =~ ^[A-Za-z0-9_-]{1,100}$ ]] ||
  die "workerId \"$id\" ($from) must be 1-100 characters of letters, digits, '_' or '-'"

# shellcheck source=distribution/bin/pidcheck.sh
. "$here/pidcheck.sh"

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
  if ours "$pid" distributed; then
    die "worker $id is already running (pid $pid, $pidfile)"
  fi
  echo "connect-distributed: removing stale pid file $pidfile (no worker runs as pid ${pid:-?})" >&2
  rm -f "$pidfile"
fi

if [ "$daemon" = 1 ]; then
  logdir=${RMQCONNECT_LOG_DIR:-$home/logs}
  mkdir -p "$logdir"
  log="$logdir/connect-distributed-$id.out"
  nohup "$bin" distributed "$@" >>"$log" 2>&1 </dev/null 9<&- &
  echo $! >"$pidfile"
  echo "connect-distributed: started worker $id (pid $!), log $log"
  exit 0
fi
echo $$ >"$pidfile"
exec "$bin" distributed "$@" 9<&-
