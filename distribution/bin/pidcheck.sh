# shellcheck shell=bash
# Sourced by the connect-*.sh scripts (not run on its own): whether a pid file names a live
# worker, what the worker config says, and the wait for a worker started with --daemon. The
# sourcing script sets prog (its name in messages).

# ours PID MODE [PIDFILE]: PID is alive and is `rmqconnect MODE` or connect-MODE.sh about to
# become it, so that a pid reused by an unrelated process, or a zombie, does not count. With
# PIDFILE, neither does a worker these scripts started for another pid file (for_pid_file): a
# pid file left by a crash or a reboot may name the pid another worker of the same mode runs as
# now, which must be neither refused as running nor stopped in its place. A process in the
# middle of an exec (connect-MODE.sh becoming nohup, nohup becoming rmqconnect) shows no
# arguments for a moment, which on a loaded host can last over a second: a live process
# without any is asked again for up to 10 s, unless it is a kernel thread (a child of
# kthreadd, pid 2), which never has any.
ours() {
  local pid=$1 mode=$2 pidfile=${3:-} arg state ppid tries=0
  local -a args=()
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    while :; do
      while IFS= read -r -d '' arg; do args+=("$arg"); done <"/proc/$pid/cmdline" 2>/dev/null || true
      [ "${#args[@]}" -eq 0 ] || break
      state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
      ppid=$(sed -n 's/^PPid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
      case "$state" in '' | Z | X) return 1 ;; esac
      [ "$pid" != 2 ] && [ "$ppid" != 2 ] || return 1
      tries=$((tries + 1))
      [ "$tries" -le 200 ] || return 1
      sleep 0.05
    done
  elif command -v ps >/dev/null 2>&1; then
    read -r -a args <<<"$(ps -o args= -p "$pid" 2>/dev/null)" || true
  else
    return 0
  fi
  for arg in ${args[@]+"${args[@]}"}; do
    case "$arg" in
      "$mode" | "connect-$mode.sh" | */"connect-$mode.sh")
        if [ -n "$pidfile" ] && ! for_pid_file "$pid" "$pidfile"; then return 1; fi
        return 0 ;;
    esac
  done
  return 1
}

# real_path FILE prints FILE with its directory's symbolic links and relative parts resolved;
# FILE as given when its directory does not exist.
real_path() {
  local dir
  if dir=$(CDPATH='' cd -- "$(dirname -- "$1")" 2>/dev/null && pwd -P); then
    printf '%s/%s\n' "${dir%/}" "$(basename -- "$1")"
  else
    printf '%s\n' "$1"
  fi
}

# for_pid_file PID PIDFILE: false when PID's environment says these scripts started it for
# another pid file that names PID too: connect-MODE.sh runs the worker with RMQCONNECT_PID_FILE
# set to its pid file's real_path, so PIDFILE is a stale one whose pid that worker reuses. True
# when it cannot tell: no such variable (the worker was started another way, or is a script
# still on its way to exec), an environment /proc does not show, or a path that is no longer
# that worker's pid file by this name (its directory moved, a symbolic link in it changed).
for_pid_file() {
  local pid=$1 want kv other
  want=$(real_path "$2")
  [ -r "/proc/$pid/environ" ] || return 0
  while IFS= read -r -d '' kv; do
    case "$kv" in
      RMQCONNECT_PID_FILE=*)
        other=${kv#*=}
        if [ "$other" = "$want" ] || [ "$other" -ef "$want" ]; then return 0; fi
        if [ "$(cat -- "$other" 2>/dev/null || true)" = "$pid" ]; then return 1; fi
        return 0 ;;
    esac
  done <"/proc/$pid/environ" 2>/dev/null || true
  return 0
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s\n' "${s%"${s##*[![:space:]]}"}"; }

# config_arg ARGS... prints the worker config file ARGS name: the last -c flag, in any form Go's
# flag package accepts (-c F, --c F, -c=F, --c=F); nothing when there is none. Returns 1 when -c
# ends the arguments.
config_arg() {
  local config="" want=0 arg
  for arg in "$@"; do
    if [ "$want" = 1 ]; then config=$arg; want=0; continue; fi
    case "$arg" in
      --) break ;;
      -c | --c) want=1 ;;
      -c=* | --c=*) config=${arg#*=} ;;
    esac
  done
  [ "$want" = 0 ] || return 1
  printf '%s\n' "$config"
}

# config_format FILE prints yaml, properties or json, as conf.Load reads FILE; returns 1 for
# another extension.
config_format() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    *.yaml | *.yml) echo yaml ;;
    *.properties | *.conf | *.cfg) echo properties ;;
    *.json) echo json ;;
    *) return 1 ;;
  esac
}

# config_value FILE KEY prints the value FILE gives the top-level KEY (nothing when it gives none),
# reading the formats conf.Load reads: keys match case-insensitively and the last one wins.
config_value() {
  local file=$1 key=$2 format line v="" found=""
  format=$(config_format "$file") || return 0
  [ -r "$file" ] || return 0
  shopt -s nocasematch
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case "$format" in
      yaml) # key: x | "x" | 'x', maybe followed by a # comment
        [[ $line =~ ^[[:space:]]*${key}[[:space:]]*:([[:space:]]+(.*))?$ ]] || continue
        v=$(trim "${BASH_REMATCH[2]%%[[:space:]]#*}")
        case "$v" in '#'*) v="" ;; esac
        if [[ $v =~ ^\"(.*)\"$ || $v =~ ^\'(.*)\'$ ]]; then v=${BASH_REMATCH[1]}; fi
        found=$v ;;
      properties) # key=x | key: x | key x
        [[ $line =~ ^[[:space:]]*${key}([=:[:space:]].*)?$ ]] || continue
        v=$(trim "${BASH_REMATCH[1]}")
        case "$v" in [=:]*) v=${v:1} ;; esac
        found=$(trim "$v") ;;
      json) # "key": "x" | "key": 8082
        [[ $line =~ \"${key}\"[[:space:]]*:[[:space:]]*(\"([^\"]*)\"|([^\",}[:space:]]+)) ]] || continue
        found=$(trim "${BASH_REMATCH[2]}${BASH_REMATCH[3]}") ;;
    esac
  done <"$file"
  shopt -u nocasematch
  printf '%s\n' "$found"
}

# setting CONFIG KEY prints what the worker uses for KEY: $RMQCONNECT_<KEY> when set and not
# empty, else CONFIG's value.
setting() {
  local env
  env=RMQCONNECT_$(printf '%s' "$2" | tr '[:lower:]' '[:upper:]')
  if [ -n "${!env:-}" ]; then trim "${!env}"; elif [ -n "$1" ]; then config_value "$1" "$2"; fi
}

# start_timeout prints RMQCONNECT_START_TIMEOUT (default 30), or exits 2 when it is no number.
start_timeout() {
  local t=${RMQCONNECT_START_TIMEOUT:-30}
  case "$t" in
    '' | *[!0-9]*) echo "$prog: RMQCONNECT_START_TIMEOUT=\"$t\" must be a number of seconds" >&2; exit 2 ;;
  esac
  echo "$t"
}

# log_size LOG prints LOG's size in bytes (0 when it does not exist): where this start's lines begin.
log_size() { if [ -f "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }

# url_of HOST PORT SCHEME prints SCHEME://HOST:PORT, with 127.0.0.1 for a wildcard HOST (Go
# listens on both IPv4 and IPv6 for one and names it [::]).
url_of() {
  local host=$1 port=$2 scheme=$3
  case "$host" in '' | 0.0.0.0 | '[::]' | '::') host=127.0.0.1 ;; esac
  case "$host" in *:*) host="[${host#[}"; host="${host%]}]" ;; esac
  printf '%s://%s:%s\n' "$scheme" "$host" "$port"
}

# health URL prints the HTTP status of GET URL/health (000 when nothing answers) on its first line
# and the body after it. Without curl, plain HTTP is asked over bash's /dev/tcp and an HTTPS
# listener counts as answering (status "???") when it accepts a connection.
health() {
  local url=$1 hostport host port out v
  if command -v curl >/dev/null 2>&1; then
    out=$(curl -sk --max-time 2 -w '\n%{http_code}' "$url/health" 2>/dev/null) || true
    printf '%s\n%s\n' "${out##*$'\n'}" "${out%$'\n'*}"
    return 0
  fi
  hostport=${url#*://}; host=${hostport%:*}; port=${hostport##*:}; host=${host#[}; host=${host%]}
  if [ "${url%%://*}" = https ]; then
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then echo '???'; else echo 000; fi
    return 0
  fi
  out=$(
    { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || exit 0
    printf 'GET /health HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$hostport" >&3
    timeout 2 cat <&3 2>/dev/null || true
  )
  out=${out//$'\r'/}
  v=$(sed -n '1s|^HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p' <<<"$out")
  printf '%s\n%s\n' "${v:-000}" "${out#*$'\n\n'}"
}

# wait_started MODE PID PIDFILE LOG FROM CONFIG ID: waits until the worker started as PID runs
# and its admin REST API answers GET /health (any status: a worker waiting for RocketMQ answers
# 503 starting), for up to RMQCONNECT_START_TIMEOUT seconds, and sets rest_url and rest_status.
# The API is asked at the address of the worker's `admin REST listening` line in LOG past byte
# FROM (what this start wrote): the line proves the listener is this worker's. A worker whose
# logLevel (warn, error) hides that line is asked at httpBindAddress:httpPort from CONFIG and the
# environment, and the answer must name worker ID (another process may hold the port while this
# worker fails to bind it); with httpPort 0 as well, nothing can be asked, and the worker only has
# to be running after a second. When the worker exits or does not answer in time, prints what it
# logged, stops it, removes PIDFILE (if it still names PID) and exits 1.
wait_started() {
  local mode=$1 pid=$2 pidfile=$3 log=$4 from=$5 config=$6 id=$7
  local timeout scheme=http logged=1 port addr url="" reply code="" body="" deadline
  timeout=$(start_timeout)
  rest_url="" rest_status=""
  [ "$timeout" -gt 0 ] || return 0
  [ -z "$(setting "$config" restTLSCertFile)" ] || scheme=https
  case "$(setting "$config" logLevel | tr '[:upper:]' '[:lower:]')" in '' | debug | info) ;; *) logged=0 ;; esac
  if [ "$logged" = 0 ]; then
    port=$(setting "$config" httpPort)
    case "${port:=8082}" in
      0 | *[!0-9]*)
        sleep 1
        ours "$pid" "$mode" || start_failed "$mode" "$pid" "$pidfile" "$log" "$from" "$id" "it exited"
        return 0 ;;
    esac
    url=$(url_of "$(setting "$config" httpBindAddress)" "$port" "$scheme")
  fi
  deadline=$((SECONDS + timeout))
  while :; do
    ours "$pid" "$mode" || start_failed "$mode" "$pid" "$pidfile" "$log" "$from" "$id" "it exited"
    if [ "$logged" = 1 ]; then
      addr=$(tail -c "+$((from + 1))" "$log" 2>/dev/null |
        sed -n -E 's/.*admin REST listening.*[ ,{]"?addr"?[=:]"?([^" ,}]+).*/\1/p' | tail -n 1) || true
      [ -z "$addr" ] || url=$(url_of "${addr%:*}" "${addr##*:}" "$scheme")
    fi
    if [ -n "$url" ]; then
      reply=$(health "$url")
      code=${reply%%$'\n'*} body=${reply#*$'\n'}
      if [ "$code" != 000 ] && { [ "$logged" = 1 ] || [[ $body =~ \"worker_id\"[[:space:]]*:[[:space:]]*\"$id\" ]]; }; then
        break
      fi
    fi
    if [ $SECONDS -ge $deadline ]; then
      if [ -z "$url" ]; then
        start_failed "$mode" "$pid" "$pidfile" "$log" "$from" "$id" \
          "it logged no 'admin REST listening' within ${timeout}s (RMQCONNECT_START_TIMEOUT)"
      fi
      start_failed "$mode" "$pid" "$pidfile" "$log" "$from" "$id" \
        "no answer from $url/health$([ "$logged" = 1 ] || echo " naming worker $id") within ${timeout}s (RMQCONNECT_START_TIMEOUT)"
    fi
    sleep 0.2
  done
  rest_url=$url
  rest_status=$(sed -n -E 's/.*"status"[[:space:]]*:[[:space:]]*"([^"]*)".*/\1/p' <<<"$body" | head -n 1)
  rest_status=${rest_status:-HTTP $code}
}

# start_failed MODE PID PIDFILE LOG FROM ID REASON: see wait_started.
start_failed() {
  local mode=$1 pid=$2 pidfile=$3 log=$4 from=$5 id=$6 reason=$7
  echo "$prog: worker $id (pid $pid) did not start: $reason; its log since this start ($log):" >&2
  tail -c "+$((from + 1))" "$log" 2>/dev/null | tail -n 20 | sed 's/^/  /' >&2 || true
  if ours "$pid" "$mode"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do ours "$pid" "$mode" || break; sleep 0.1; done
    if ours "$pid" "$mode"; then
      echo "$prog: pid $pid still running 10s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if [ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]; then rm -f "$pidfile"; fi
  exit 1
}
