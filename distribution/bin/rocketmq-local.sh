#!/usr/bin/env bash
# rocketmq-local.sh — a real Apache RocketMQ name server and broker on loopback, for development and tests.
#
#   rocketmq-local.sh start    resolve the jars (first run only), write a loopback config, start both, wait until ready
#   rocketmq-local.sh stop     SIGTERM the broker then the name server, wait for both to exit
#   rocketmq-local.sh status   exit 0 and print the addresses when both run; exit 3 when stopped
#   rocketmq-local.sh logs     print the tail of both logs (RMQ_LOG_LINES, default 50)
#   rocketmq-local.sh fetch    only resolve the jars into the cache
#   rocketmq-local.sh stop-broker|start-broker|stop-namesrv|start-namesrv
#                              stop or start one of the two processes of a pair started before, store kept
#                              (fault tests restart them separately)
#
# Environment (all optional):
#   RMQ_VERSION        RocketMQ version to run (default 5.3.3)
#   RMQ_NAMESRV_PORT   name server port (default 9876)
#   RMQ_BROKER_PORT    broker remoting port (default 10911; the broker also takes PORT-2 and PORT+1)
#   RMQ_HOST           address both bind to and the broker advertises (default 127.0.0.1); another local
#                      address (a bridge's, say) lets processes in other network namespaces reach them
#   RMQ_DATA_DIR       config, store, logs and pid files (default ${XDG_STATE_HOME:-$HOME/.local/state}/rmqconnect/rocketmq)
#   RMQ_CACHE_DIR      where jars are cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/rmqconnect/rocketmq-<version>)
#   RMQ_START_TIMEOUT  seconds to wait for each process to become ready (default 90)
#   RMQ_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   RMQ_CLEAN_STORE    1 = wipe the message store before starting (tests use this)
#   RMQ_NAMESRV_HEAP / RMQ_BROKER_HEAP   JVM heap sizes (default 256m / 512m)
#   RMQ_ACL_ACCESS_KEY / RMQ_ACL_SECRET_KEY   both set: the broker requires authentication (RocketMQ 5.3
#                      ACL 2.0, authenticationEnabled=true) and this pair is its first (super) user; clients
#                      sign with it (the worker's aclEnable/accessKey/secretKey). The secret key needs 8+ characters.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=$(cd "$here/.." && pwd)
pom="$home/rocketmq/pom.xml"

version=${RMQ_VERSION:-5.3.3}
host=${RMQ_HOST:-127.0.0.1}
ns_port=${RMQ_NAMESRV_PORT:-9876}
broker_port=${RMQ_BROKER_PORT:-10911}
data=${RMQ_DATA_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/rmqconnect/rocketmq}
cache=${RMQ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rmqconnect/rocketmq-$version}
start_timeout=${RMQ_START_TIMEOUT:-90}
stop_timeout=${RMQ_STOP_TIMEOUT:-30}
ns_heap=${RMQ_NAMESRV_HEAP:-256m}
broker_heap=${RMQ_BROKER_HEAP:-512m}
acl_ak=${RMQ_ACL_ACCESS_KEY:-}
acl_sk=${RMQ_ACL_SECRET_KEY:-}

run="$data/run"
logs="$data/logs"

tool=rocketmq-local product=RocketMQ
# shellcheck source=jvm-local.sh
. "$here/jvm-local.sh"

# broker_registered: asks the name server for its cluster info (remoting request code 106,
# JSON header) and looks for this broker's address. The broker prints "boot success" before
# it registers (5.x registers on a 10s timer), and clients need the registration.
broker_registered() {
  local hdr='{"code":106,"language":"JAVA","version":0,"opaque":1,"flag":0}' len reply
  len=$((4 + ${#hdr}))
  reply=$(
    exec 3<>"/dev/tcp/$host/$ns_port" 2>/dev/null || exit 0
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x%02x\\x%02x\\x%02x' \
      $((len >> 24 & 255)) $((len >> 16 & 255)) $((len >> 8 & 255)) $((len & 255)) \
      $((${#hdr} >> 16 & 255)) $((${#hdr} >> 8 & 255)) $((${#hdr} & 255)))%s" "$hdr" >&3
    timeout 2 dd bs=65536 count=1 status=none <&3 2>/dev/null | tr -d '\0' || true
  )
  case "$reply" in *"\"$host:$broker_port\""*) return 0 ;; esac
  return 1
}

# Disk limits: RocketMQ clips diskSpaceCleanForciblyRatio to 85 and diskSpaceWarningLevelRatio
# to 90, whatever is written below, and counts a disk as df does (used / (used + available)).
# Past 85 % it deleted commit log files whether consumers had read them or not, so records
# vanished under running tests (a sink then waits for lines that never come);
# cleanFileForciblyEnable=false keeps every file younger than fileReservedTime, and past 90 %
# the broker refuses writes instead: a failure that says what it is.
write_config() {
  mkdir -p "$data/conf" "$data/store" "$data/namesrv" "$logs" "$run"
  cat >"$data/conf/namesrv.conf" <<EOF
listenPort=$ns_port
bindAddress=$host
rocketmqHome=$data
kvConfigPath=$data/namesrv/kvConfig.json
EOF
  cat >"$data/conf/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-local
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=$host:$ns_port
brokerIP1=$host
brokerIP2=$host
listenPort=$broker_port
bindAddress=$host
rocketmqHome=$data
storePathRootDir=$data/store
storePathCommitLog=$data/store/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
defaultTopicQueueNums=4
mappedFileSizeCommitLog=67108864
mappedFileSizeConsumeQueue=600000
mappedFileSizeConsumeQueueExt=4194304
maxHashSlotNum=50000
maxIndexNum=200000
fileReservedTime=24
diskMaxUsedSpaceRatio=95
diskSpaceWarningLevelRatio=98
diskSpaceCleanForciblyRatio=97
cleanFileForciblyEnable=false
timerWheelEnable=false
channelExpiredTimeout=60000
traceTopicEnable=false
EOF
  if [ -n "$acl_ak$acl_sk" ]; then
    [ -n "$acl_ak" ] && [ -n "$acl_sk" ] || die "set both RMQ_ACL_ACCESS_KEY and RMQ_ACL_SECRET_KEY, or neither"
    case "$acl_ak$acl_sk" in *[!A-Za-z0-9_.-]*) die "RMQ_ACL_ACCESS_KEY / RMQ_ACL_SECRET_KEY: use letters, digits, '_', '.', '-' only" ;; esac
    # ACL 2.0 (RocketMQ 5.3 has no plain_acl.yml any more): every request must be signed by a known user;
    # the initial user is a super user, so no authorization rules are needed for it.
    cat >>"$data/conf/broker.conf" <<EOF
authenticationEnabled=true
authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider
authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider
initAuthenticationUser={"username":"$acl_ak","password":"$acl_sk"}
innerClientAuthenticationCredentials={"accessKey":"$acl_ak","secretKey":"$acl_sk"}
authorizationEnabled=true
authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider
authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider
EOF
  fi
}

# launch NAME MAINCLASS HEAP EXTRA...: start one JVM detached from this shell, record its pid.
launch() {
  local name=$1 main=$2 heap=$3; shift 3
  local out="$logs/$name.out"
  : >"$out"
  # setsid: the JVM outlives this script and does not get the caller's terminal signals.
  # Every inherited descriptor above stderr is closed first: a JVM holding the caller's lock
  # file (`flock LOCK rocketmq-local.sh start`) would keep that lock for as long as it runs.
  (
    for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid java -server -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Xss512k \
      -Drmqconnect.role="$name" -Duser.home="$data" -Drocketmq.home.dir="$data" \
      -Drocketmq.client.logRoot="$logs" \
      --add-exports java.base/sun.nio.ch=ALL-UNNAMED \
      --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      "$@" -cp "$cache/lib/*" "$main" -c "$data/conf/$name.conf" >"$out" 2>&1 </dev/null
  ) &
  echo $! >"$run/$name.pid"
}

cmd_status() {
  local ns br
  ns=$(pid_of namesrv); br=$(pid_of broker)
  if [ -n "$ns" ] && [ -n "$br" ]; then
    echo "running: namesrv $host:$ns_port (pid $ns), broker $host:$broker_port (pid $br), data $data"
    return 0
  fi
  for n in namesrv broker; do
    if [ -f "$run/$n.pid" ] && [ -z "$(pid_of $n)" ]; then
      echo "stale pid file $run/$n.pid (process $(cat "$run/$n.pid" 2>/dev/null) is gone)"
    fi
  done
  if [ -n "$ns$br" ]; then
    echo "partly running: namesrv pid ${ns:-none}, broker pid ${br:-none}"
    return 4
  fi
  echo "stopped"
  return 3
}

cmd_start() {
  mkdir -p "$(dirname "$data")"
  exec 9>"${data%/}.lock"
  flock -w "$((start_timeout * 2))" 9 || die "another rocketmq-local.sh holds ${data%/}.lock"
  if [ -n "$(pid_of namesrv)" ] && [ -n "$(pid_of broker)" ]; then
    say "already running (namesrv $host:$ns_port, broker $host:$broker_port)"
    return 0
  fi
  need_java
  fetch rocketmq.version org.apache.rocketmq:rocketmq-broker
  for n in namesrv broker; do
    if [ -f "$run/$n.pid" ] && [ -z "$(pid_of $n)" ]; then
      say "removing stale pid file $run/$n.pid (process $(cat "$run/$n.pid" 2>/dev/null) is gone)"
      rm -f "$run/$n.pid"
    fi
  done
  # A half-running pair (one died) is restarted as a whole.
  stop_one broker
  stop_one namesrv
  for p in "$ns_port" "$broker_port" "$((broker_port - 2))" "$((broker_port + 1))"; do
    if port_open "$p"; then
      die "port $host:$p is taken by another process (ss -ltnp 'sport = :$p' shows which); set RMQ_NAMESRV_PORT / RMQ_BROKER_PORT"
    fi
  done
  if [ "${RMQ_CLEAN_STORE:-0}" = 1 ]; then rm -rf "$data/store" "$data/namesrv" "$data/logs"; fi
  write_config
  local t0=$SECONDS
  launch namesrv org.apache.rocketmq.namesrv.NamesrvStartup "$ns_heap"
  wait_ready namesrv "$ns_port" "$logs/namesrv.out" "boot success"
  launch broker org.apache.rocketmq.broker.BrokerStartup "$broker_heap" -XX:MaxDirectMemorySize=512m
  wait_ready broker "$broker_port" "$logs/broker.out" "boot success" broker_registered
  say "ready in $((SECONDS - t0))s: namesrv $host:$ns_port, broker $host:$broker_port, data $data"
  echo "$host:$ns_port"
}

cmd_stop() {
  mkdir -p "$(dirname "$data")"
  exec 9>"${data%/}.lock"
  flock -w "$((stop_timeout * 3))" 9 || die "another rocketmq-local.sh holds ${data%/}.lock"
  stop_one broker
  stop_one namesrv
  say "stopped"
}

# cmd_one ACTION NAME: stop or start one process of a pair that was started before (its config is kept).
cmd_one() {
  local action=$1 name=$2
  mkdir -p "$(dirname "$data")"
  exec 9>"${data%/}.lock"
  flock -w "$((start_timeout * 2))" 9 || die "another rocketmq-local.sh holds ${data%/}.lock"
  [ -f "$data/conf/$name.conf" ] || die "$name was never started in $data: run start first"
  if [ "$action" = stop ]; then stop_one "$name"; say "$name stopped"; return 0; fi
  if [ -n "$(pid_of "$name")" ]; then say "$name already running"; return 0; fi
  need_java
  if [ "$name" = namesrv ]; then
    launch namesrv org.apache.rocketmq.namesrv.NamesrvStartup "$ns_heap"
    wait_ready namesrv "$ns_port" "$logs/namesrv.out" "boot success"
  else
    launch broker org.apache.rocketmq.broker.BrokerStartup "$broker_heap" -XX:MaxDirectMemorySize=512m
    wait_ready broker "$broker_port" "$logs/broker.out" "boot success" broker_registered
  fi
  say "$name started"
}

cmd_logs() {
  local n=${RMQ_LOG_LINES:-50}
  for f in "$logs/namesrv.out" "$logs/broker.out" "$logs/rocketmqlogs/broker.log"; do
    [ -f "$f" ] && { echo "==> $f <=="; tail -n "$n" "$f"; }
  done
  [ -d "$logs" ] || echo "no logs yet in $logs"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  fetch) need_java; fetch rocketmq.version org.apache.rocketmq:rocketmq-broker ;;
  stop-broker | start-broker | stop-namesrv | start-namesrv) cmd_one "${1%%-*}" "${1#*-}" ;;
  *) echo "usage: $(basename "$0") start|stop|status|logs|fetch|stop-broker|start-broker|stop-namesrv|start-namesrv" >&2; exit 2 ;;
esac
