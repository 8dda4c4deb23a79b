# shellcheck shell=bash
# Sourced by rocketmq-local.sh and kafka-local.sh (not run on its own): what running a JVM server
# from Maven Central jars on this machine takes. The sourcing script sets
#   tool     its name in messages          product  the server's name ("RocketMQ", "Kafka")
#   version  the version to run             pom      the pom.xml that resolves its jars
#   cache    where the jars are kept        run      where pid files go ($run/ROLE.pid)
#   logs     where the process's ROLE.out goes  host  the address servers bind to (default 127.0.0.1)
#   stop_timeout, start_timeout (seconds)
# and starts each process with -Drmqconnect.role=ROLE, so a pid reused by another process is
# never taken for it.

die() { echo "$tool: $*" >&2; exit 1; }
say() { echo "$tool: $*" >&2; }

need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | sed -n 1p) || true
  [ -n "$major" ] && [ "$major" -ge 17 ] ||
    die "java ${major:-?} found, $product $version here needs JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"
}

# fetch PROPERTY ARTIFACT: resolves the jars from Maven Central into the cache, once; PROPERTY is
# the pom's version property and ARTIFACT the jar (group:name) whose presence proves it worked.
fetch() {
  local property=$1 artifact=$2
  if [ -f "$cache/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: it is needed once to download $product $version (Debian: apt-get install maven)"
  [ -f "$pom" ] || die "missing $pom"
  mkdir -p "$cache"
  local tmp="$cache/lib.tmp.$$"
  rm -rf "$tmp"
  say "downloading $product $version jars with mvn (first run only) into $cache"
  local started=$SECONDS
  if ! mvn -B -q -f "$pom" -D"$property=$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$cache/mvn.log" 2>&1; then
    rm -rf "$tmp"
    tail -20 "$cache/mvn.log" >&2 || true
    die "mvn could not resolve $artifact:$version (full log: $cache/mvn.log)"
  fi
  ls "$tmp/${artifact#*:}"-*.jar >/dev/null 2>&1 || die "mvn ran but no ${artifact#*:} jar landed in $tmp"
  rm -rf "$cache/lib"
  mv "$tmp" "$cache/lib"
  echo "$version" >"$cache/.complete"
  say "jars ready in $((SECONDS - started))s"
}

pid_of() { # pid_of ROLE: the pid in $run/ROLE.pid if that process is alive and is ours, else nothing
  local f="$run/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "rmqconnect.role=$1"; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$1") 2>/dev/null; }

# wait_ready ROLE PORT LOG PATTERN [CHECK [FROM]]: until LOG has PATTERN past byte FROM (default 0,
# for a log truncated at launch; a log appended to across runs passes its size before the launch, so
# that an earlier run's line does not count), PORT accepts connections and the command CHECK (if
# any) succeeds; the process exiting or start_timeout passing is fatal.
wait_ready() {
  local role=$1 port=$2 log=$3 pattern=$4 check=${5:-true} from=${6:-0} deadline=$((SECONDS + start_timeout)) pid
  pid=$(cat "$run/$role.pid")
  while :; do
    # A log shorter than FROM was replaced: all of it is this run's.
    if [ -f "$log" ] && [ "$(wc -c <"$log")" -lt "$from" ]; then from=0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$role" "$log" "$from"
      die "$role exited during start-up (log: $log)"
    fi
    if grep -q "$pattern" < <(tail -c "+$((from + 1))" "$log" 2>/dev/null) && port_open "$port" && $check; then
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      log_tail "$role" "$log" "$from"
      kill -TERM "$pid" 2>/dev/null || true
      die "$role not ready on ${host:-127.0.0.1}:$port after ${start_timeout}s (log: $log)"
    fi
    sleep 0.2
  done
}

# log_tail ROLE LOG FROM: the last lines of LOG past byte FROM, and of ROLE's stdout if that is another file.
log_tail() {
  local role=$1 log=$2 from=$3
  echo "==> $log <==" >&2
  tail -c "+$((from + 1))" "$log" 2>/dev/null | tail -n 30 >&2 || true
  if [ "$logs/$role.out" != "$log" ]; then
    echo "==> $logs/$role.out <==" >&2
    tail -n 30 "$logs/$role.out" >&2 2>/dev/null || true
  fi
}

# stop_one ROLE [SIGNAL]: signals ROLE's process (default TERM), waits for it to exit (SIGKILL after
# stop_timeout) and removes its pid file.
stop_one() {
  local role=$1 sig=${2:-TERM} pid deadline
  pid=$(pid_of "$role")
  if [ -z "$pid" ]; then rm -f "$run/$role.pid"; return 0; fi
  kill "-$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      say "$role (pid $pid) still running ${stop_timeout}s after SIG$sig; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$run/$role.pid"
}
