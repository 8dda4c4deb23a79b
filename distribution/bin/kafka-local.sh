#!/usr/bin/env bash
# kafka-local.sh — a real Apache Kafka broker (KRaft mode: one process is broker and controller) on
# loopback, for development and tests.
#
#   kafka-local.sh start    resolve the jars (first run only), format the storage (first start), start, wait until ready
#   kafka-local.sh stop     SIGTERM the broker, wait for it to exit (SIGKILL after KAFKA_STOP_TIMEOUT)
#   kafka-local.sh kill     SIGKILL the broker (fault tests: the data stays, a later start recovers it)
#   kafka-local.sh status   exit 0 and print the address when it runs; exit 3 when stopped
#   kafka-local.sh logs     print the tail of the log (KAFKA_LOG_LINES, default 50)
#   kafka-local.sh fetch    only resolve the jars into the cache
#
# Environment (all optional):
#   KAFKA_VERSION        Kafka version to run (default 3.9.1)
#   KAFKA_PORT           client listener port (default 29092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 29093)
#   KAFKA_DATA_DIR       config, log segments, logs and pid file (default ${XDG_STATE_HOME:-$HOME/.local/state}/rmqconnect/kafka)
#   KAFKA_CACHE_DIR      where jars are cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/rmqconnect/kafka-<version>)
#   KAFKA_HEAP           JVM heap (default 512m)
#   KAFKA_CLEAN          1 = wipe the data before starting (tests use this)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker to become ready (default 90)
#   KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_WATCH_LOCK     a file: once no process holds a lock on it, stop the broker this call started
#   KAFKA_SASL_PORT      with KAFKA_SASL_USER and KAFKA_SASL_PASSWORD: a SASL_PLAINTEXT listener on this port
#                        accepting that user with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (SCRAM users are
#                        written when the storage is formatted: use a fresh data directory)
#   KAFKA_SSL_PORT       with KAFKA_SSL_KEYSTORE (a PEM file: the unencrypted PKCS#8 private key and the
#                        certificate chain): an SSL listener on this port
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)
pom="$home/kafka/pom.xml"
script="$here/$(basename "${BASH_SOURCE[0]}")"

version=${KAFKA_VERSION:-3.9.1}
port=${KAFKA_PORT:-29092}
cport=${KAFKA_CONTROLLER_PORT:-29093}
data=${KAFKA_DATA_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/rmqconnect/kafka}
cache=${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rmqconnect/kafka-$version}
heap=${KAFKA_HEAP:-512m}
start_timeout=${KAFKA_START_TIMEOUT:-90}
stop_timeout=${KAFKA_STOP_TIMEOUT:-30}

sasl_port=${KAFKA_SASL_PORT:-}
sasl_user=${KAFKA_SASL_USER:-}
sasl_password=${KAFKA_SASL_PASSWORD:-}
ssl_port=${KAFKA_SSL_PORT:-}
ssl_keystore=${KAFKA_SSL_KEYSTORE:-}

run="$data/run"
logs="$data/logs"
pidfile="$run/kafka.pid"

tool=kafka-local product=Kafka host=127.0.0.1
# shellcheck source=jvm-local.sh
. "$here/jvm-local.sh"

write_config() {
  mkdir -p "$data/conf" "$data/log" "$logs" "$run"
  local listeners="PLAINTEXT://127.0.0.1:$port" advertised="PLAINTEXT://127.0.0.1:$port"
  if [ -n "$sasl_port" ]; then
    [ -n "$sasl_user" ] && [ -n "$sasl_password" ] || die "KAFKA_SASL_PORT needs KAFKA_SASL_USER and KAFKA_SASL_PASSWORD"
    case "$sasl_user$sasl_password" in *[!A-Za-z0-9_.-]*) die "KAFKA_SASL_USER / KAFKA_SASL_PASSWORD: use letters, digits, '_', '.', '-' only" ;; esac
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
    advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  fi
  if [ -n "$ssl_port" ]; then
    [ -f "$ssl_keystore" ] || die "KAFKA_SSL_PORT needs KAFKA_SSL_KEYSTORE, a PEM file with the key and certificate chain"
    listeners="$listeners,SSL://127.0.0.1:$ssl_port"
    advertised="$advertised,SSL://127.0.0.1:$ssl_port"
  fi
  cat >"$data/conf/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
log.dirs=$data/log
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
log.flush.interval.messages=9223372036854775807
num.network.threads=2
num.io.threads=2
background.threads=2
CONF
  if [ -n "$sasl_port" ]; then
    cat >>"$data/conf/server.properties" <<CONF
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
CONF
  fi
  if [ -n "$ssl_port" ]; then
    cat >>"$data/conf/server.properties" <<CONF
ssl.keystore.type=PEM
ssl.keystore.location=$ssl_keystore
ssl.client.auth=none
CONF
  fi
  cat >"$data/conf/log4j.properties" <<CONF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$logs/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
CONF
}

# format writes the KRaft metadata of a fresh data directory (kafka-storage.sh format).
format() {
  [ -f "$data/log/meta.properties" ] && return 0
  local id
  # As Kafka's own Uuid.randomUuid: never an id starting with '-', which the tool would take for an option.
  id=-
  while [ "${id#-}" != "$id" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  local scram=()
  if [ -n "$sasl_port" ]; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$sasl_password]"
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$sasl_password]")
  fi
  java -Xmx256m -Dlog4j.configuration="file:$data/conf/log4j.properties" -cp "$cache/lib/*" \
    kafka.tools.StorageTool format -t "$id" -c "$data/conf/server.properties" "${scram[@]}" >"$logs/format.out" 2>&1 ||
    { tail -20 "$logs/format.out" >&2; die "storage format failed (log: $logs/format.out)"; }
}

launch() {
  local out="$logs/kafka.out"
  : >"$out"
  # setsid: the JVM outlives this script and does not get the caller's terminal signals. Inherited
  # descriptors above stderr are closed, so the JVM never holds a caller's lock file.
  (
    for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid java -server -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Xss512k \
      -XX:ActiveProcessorCount=2 -Djava.awt.headless=true -Drmqconnect.role=kafka \
      -Dlog4j.configuration="file:$data/conf/log4j.properties" -Dkafka.logs.dir="$logs" \
      -cp "$cache/lib/*" kafka.Kafka "$data/conf/server.properties" >"$out" 2>&1 </dev/null
  ) &
  echo $! >"$pidfile"
}

# watch stops the broker once nobody holds KAFKA_WATCH_LOCK any more (the last test process exited).
watch() {
  [ -n "${KAFKA_WATCH_LOCK:-}" ] || return 0
  setsid flock -x "$KAFKA_WATCH_LOCK" env KAFKA_WATCH_LOCK= KAFKA_DATA_DIR="$data" KAFKA_PORT="$port" \
    KAFKA_CONTROLLER_PORT="$cport" bash "$script" stop </dev/null >>"$data/watch.log" 2>&1 9>&- &
}

cmd_start() {
  mkdir -p "$(dirname "$data")"
  exec 9>"${data%/}.lock"
  flock -w "$((start_timeout * 2))" 9 || die "another kafka-local.sh holds ${data%/}.lock"
  if [ -n "$(pid_of kafka)" ]; then
    say "already running on 127.0.0.1:$port"
    echo "127.0.0.1:$port"
    return 0
  fi
  need_java
  fetch kafka.version org.apache.kafka:kafka_2.13
  rm -f "$pidfile"
  for p in "$port" "$cport" $sasl_port $ssl_port; do
    if port_open "$p"; then
      die "port 127.0.0.1:$p is taken by another process (ss -ltnp 'sport = :$p' shows which); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
  if [ "${KAFKA_CLEAN:-0}" = 1 ]; then rm -rf "$data/log" "$logs"; fi
  write_config
  format
  local t0=$SECONDS from=0
  # log4j appends to server.log across runs: only what this run writes counts.
  if [ -f "$logs/server.log" ]; then from=$(wc -c <"$logs/server.log"); fi
  launch
  wait_ready kafka "$port" "$logs/server.log" "Kafka Server started" true "$from"
  watch
  say "ready in $((SECONDS - t0))s: 127.0.0.1:$port, data $data"
  echo "127.0.0.1:$port"
}

cmd_stop() { # cmd_stop SIGNAL
  mkdir -p "$(dirname "$data")"
  exec 9>"${data%/}.lock"
  flock -w "$((stop_timeout * 3))" 9 || die "another kafka-local.sh holds ${data%/}.lock"
  stop_one kafka "$1"
  say "stopped"
}

cmd_status() {
  local pid
  pid=$(pid_of kafka)
  if [ -n "$pid" ]; then
    echo "running: kafka 127.0.0.1:$port (pid $pid), data $data"
    return 0
  fi
  [ -f "$pidfile" ] && echo "stale pid file $pidfile (process $(cat "$pidfile" 2>/dev/null) is gone)"
  echo "stopped"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop TERM ;;
  kill) cmd_stop KILL ;;
  status) cmd_status ;;
  logs) for f in "$logs/server.log" "$logs/kafka.out"; do [ -f "$f" ] && { echo "==> $f <=="; tail -n "${KAFKA_LOG_LINES:-50}" "$f"; }; done ;;
  fetch) need_java; fetch kafka.version org.apache.kafka:kafka_2.13 ;;
  *) echo "usage: $(basename "$0") start|stop|kill|status|logs|fetch" >&2; exit 2 ;;
esac
