#!/usr/bin/env bash
# Local PostgreSQL 15 and MariaDB 10.11 for trying the jdbc connectors by hand and for the tests
# (tests/dbtest runs this script). Each server gets its own port and data directory under
# DB_DATA_DIR; nothing system-wide is touched and no service is registered.
#
#   db-local.sh start [postgres|mariadb|all]   init (first time) and start; no-op when running (MariaDB: a
#                                              data directory whose setup did not finish is set up)
#   db-local.sh stop  [postgres|mariadb|all]   stop the servers started from DB_DATA_DIR
#   db-local.sh status                         what runs, and the connection URLs
#   db-local.sh urls                           the connection URLs only (shell assignments)
#   db-local.sh demo DIR                       start both, fill a PostgreSQL table `orders` and write the
#                                              jdbc demo's connector configs (table -> topic -> MariaDB) to DIR
#
# Environment:
#   DB_DATA_DIR     where data, sockets and logs live (default ${TMPDIR:-/tmp}/rmqconnect-db-$UID)
#   DB_PG_PORT      PostgreSQL port (default 15432)
#   DB_MYSQL_PORT   MariaDB port (default 13306)
#   DB_USER         user created in both servers (default connect)
#   DB_PASSWORD     its password (default connect-secret)
#   DB_DATABASE     database created in both servers (default connect)
#   DB_CLEAN=1      wipe the data directory before a server really starts (throwaway data)
#   DB_WATCH_LOCK   a file: once no process holds a lock on it, stop what this call started
#
# Packages: postgresql-15 and mariadb-server (Debian 12). The data directory must be reachable by
# the postgres user when run as root (PostgreSQL refuses to run as root): hence the default in /tmp.
set -euo pipefail

cmd="${1:-status}"
what="${2:-all}"
DB_DATA_DIR="${DB_DATA_DIR:-${TMPDIR:-/tmp}/rmqconnect-db-$(id -u)}"
DB_PG_PORT="${DB_PG_PORT:-15432}"
DB_MYSQL_PORT="${DB_MYSQL_PORT:-13306}"
DB_USER="${DB_USER:-connect}"
DB_PASSWORD="${DB_PASSWORD:-connect-secret}"
DB_DATABASE="${DB_DATABASE:-connect}"

pg_dir="$DB_DATA_DIR/pg-$DB_PG_PORT"
my_dir="$DB_DATA_DIR/mariadb-$DB_MYSQL_PORT"
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

die() { echo "db-local: $*" >&2; exit 1; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return; }
  die "PostgreSQL not installed (apt-get install -y --no-install-recommends postgresql-15)"
}

# as_pg runs a PostgreSQL tool as the postgres user when we are root (initdb and pg_ctl refuse root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_pid() { head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null || true; }
# pg_running: postmaster.pid names a live postgres started on this data directory (its -D, which
# pg_ctl passes), so that the pid of a server killed with -9, reused by another process, is not
# taken for it (`pg_ctl status` only asks whether the pid lives).
pg_running() {
  local p arg prev="" want d
  local -a args=()
  p="$(pg_pid)"
  case "$p" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$p" 2>/dev/null || return 1
  want="$(cd "$pg_dir/data" 2>/dev/null && pwd -P)" || return 1
  if [ -r "/proc/$p/cmdline" ]; then
    while IFS= read -r -d '' arg; do args+=("$arg"); done <"/proc/$p/cmdline" 2>/dev/null || true
  else
    read -r -a args <<<"$(ps -o args= -p "$p" 2>/dev/null)" || true
  fi
  [ "${#args[@]}" -gt 0 ] || return 1
  case "${args[0]##*/}" in postgres | postmaster) ;; *) return 1 ;; esac
  for arg in "${args[@]:1}"; do
    if [ "$prev" = -D ]; then
      d="$(cd "$arg" 2>/dev/null && pwd -P)" && [ "$d" = "$want" ] && return 0
    fi
    prev=$arg
  done
  return 1
}

my_pid() { cat "$my_dir/mariadbd.pid" 2>/dev/null || true; }
# my_running: mariadbd.pid names a live mariadbd of this directory (its --pid-file is that file), so
# that the pid of a server killed with -9, reused by another process, is not taken for it.
my_running() {
  local p arg want="--pid-file=$my_dir/mariadbd.pid"
  p="$(my_pid)"
  case "$p" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$p" 2>/dev/null || return 1
  if [ -r "/proc/$p/cmdline" ]; then
    while IFS= read -r -d '' arg; do [ "$arg" = "$want" ] && return 0; done <"/proc/$p/cmdline" 2>/dev/null
    return 1
  fi
  ps -o args= -p "$p" 2>/dev/null | tr ' ' '\n' | grep -qxF -- "$want"
}

start_pg() {
  if pg_running; then echo "postgres already running on 127.0.0.1:$DB_PG_PORT"; return 1; fi
  local bin p; bin="$(pg_bin)"
  # postgres refuses to start while the pid in postmaster.pid lives, whatever process it now is
  # (pg_running found it no postgres of this directory). Without the file, postgres's shared memory
  # interlock, keyed on the data directory, still refuses a start beside a killed server's backends.
  p="$(pg_pid)"
  case "$p" in '' | *[!0-9]*) ;; *) if kill -0 "$p" 2>/dev/null; then rm -f "$pg_dir/data/postmaster.pid"; fi ;; esac
  [ "${DB_CLEAN:-0}" = 1 ] && rm -rf "$pg_dir"
  mkdir -p "$pg_dir"
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$DB_DATA_DIR"
    chown postgres: "$pg_dir"
  fi
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    printf '%s\n' "$DB_PASSWORD" >"$pg_dir/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir/pwfile"
    as_pg "$bin/initdb" -D "$pg_dir/data" -U "$DB_USER" --pwfile="$pg_dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 ||
      die "initdb failed: see $pg_dir/initdb.log"
    rm -f "$pg_dir/pwfile"
  fi
  as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start -o \
    "-p $DB_PG_PORT -c listen_addresses=127.0.0.1 -k $pg_dir -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 \
     -c max_connections=200 -c timezone=UTC" </dev/null >/dev/null 9>&- ||
    die "postgres did not start: see $pg_dir/postgres.log"
  as_pg "$bin/psql" -h "$pg_dir" -p "$DB_PG_PORT" -U "$DB_USER" -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_DATABASE'" | grep -q 1 ||
    as_pg "$bin/psql" -h "$pg_dir" -p "$DB_PG_PORT" -U "$DB_USER" -d postgres -qc "CREATE DATABASE \"$DB_DATABASE\"" >/dev/null
  echo "postgres started on 127.0.0.1:$DB_PG_PORT"
}

stop_pg() {
  pg_running || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast -w -t 60 stop >/dev/null
  echo "postgres stopped"
}

# start_my and my_setup run as `if start_my` and `start_my || true`, where set -e does not apply:
# every step that can fail is checked.
start_my() {
  if my_running; then
    echo "mariadb already running on 127.0.0.1:$DB_MYSQL_PORT"
    my_setup || die "mariadb runs without user $DB_USER and database $DB_DATABASE: see the error above"
    return 1
  fi
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
    die "MariaDB not installed (apt-get install -y --no-install-recommends mariadb-server)"
  local mariadbd=mariadbd
  command -v mariadbd >/dev/null || mariadbd=/usr/sbin/mariadbd
  if [ "${DB_CLEAN:-0}" = 1 ]; then rm -rf "$my_dir" || die "cannot remove $my_dir"; fi
  mkdir -p "$my_dir" || die "cannot create $my_dir"
  rm -f "$my_dir/mariadbd.pid"
  if [ ! -d "$my_dir/data/mysql" ]; then
    rm -f "$my_dir/initialised"
    mariadb-install-db --no-defaults --datadir="$my_dir/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      >"$my_dir/install.log" 2>&1 || { rm -rf "$my_dir/data"; die "mariadb-install-db failed: see $my_dir/install.log"; }
  fi
  setsid "$mariadbd" --no-defaults --user="$(id -un)" --datadir="$my_dir/data" --port="$DB_MYSQL_PORT" \
    --bind-address=127.0.0.1 --socket="$my_dir/mariadbd.sock" --pid-file="$my_dir/mariadbd.pid" \
    --log-error="$my_dir/mariadbd.log" --server-id=1 --log-bin="$my_dir/data/binlog" --binlog-format=ROW \
    --binlog-row-image=FULL --binlog-row-metadata=FULL --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
    --innodb-doublewrite=0 --sync-binlog=0 --max-connections=300 --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_bin --default-time-zone=+00:00 </dev/null >/dev/null 2>&1 9>&- &
  local pid=$! i
  for i in $(seq 1 600); do
    if mariadb --no-defaults -S "$my_dir/mariadbd.sock" -u root -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$my_dir/mariadbd.log" >&2 2>/dev/null
      die "mariadb exited during start-up: see $my_dir/mariadbd.log"
    fi
    if [ "$i" = 600 ]; then kill_wait "$pid"; die "mariadb did not start in 60s: see $my_dir/mariadbd.log"; fi
    sleep 0.1
  done
  if ! my_setup; then
    kill_wait "$pid"
    die "mariadb stopped: its first start could not create user $DB_USER and database $DB_DATABASE (error above)"
  fi
  echo "mariadb started on 127.0.0.1:$DB_MYSQL_PORT"
}

# my_setup creates the user and the database, once: the data directory counts as set up when the
# marker `initialised` exists, written only after they were created, so a first start that failed
# after mariadb-install-db is completed by the next start. Returns 1 when that fails.
my_setup() {
  [ -f "$my_dir/initialised" ] && return 0
  mariadb --no-defaults -S "$my_dir/mariadbd.sock" -u root -e "
      CREATE OR REPLACE USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
      CREATE OR REPLACE USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
      GRANT ALL ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
      GRANT ALL ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
      CREATE DATABASE IF NOT EXISTS \`$DB_DATABASE\`;" || return 1
  touch "$my_dir/initialised" || return 1
}

# kill_wait PID: SIGTERM, up to 60 s to exit, then SIGKILL.
kill_wait() {
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 1 600); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

stop_my() {
  my_running || return 0
  kill_wait "$(my_pid)"
  echo "mariadb stopped"
}

urls() {
  echo "PG_URL='jdbc:postgresql://127.0.0.1:$DB_PG_PORT/$DB_DATABASE'"
  echo "MYSQL_URL='jdbc:mariadb://127.0.0.1:$DB_MYSQL_PORT/$DB_DATABASE'"
  echo "DB_USER='$DB_USER'"
}

# demo prepares `make jdbc-demo`: a PostgreSQL table with a few rows and the two connector configs.
demo() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  as_pg "$(pg_bin)/psql" -h "$pg_dir" -p "$DB_PG_PORT" -U "$DB_USER" -d "$DB_DATABASE" -qc "
    CREATE TABLE IF NOT EXISTS orders (id SERIAL PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(10,2),
      placed DATE, updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
    INSERT INTO orders (customer, amount, placed) SELECT 'customer ' || g, g * 10.25, DATE '2024-01-01' + g
      FROM generate_series(1, 5) g WHERE NOT EXISTS (SELECT 1 FROM orders);" >/dev/null
  cat >"$dir/jdbc-source.properties" <<CONF
name=demo-jdbc-source
connector.class=jdbc-source
connection.url=jdbc:postgresql://127.0.0.1:$DB_PG_PORT/$DB_DATABASE
connection.user=$DB_USER
connection.password=$DB_PASSWORD
mode=timestamp+incrementing
incrementing.column.name=id
timestamp.column.name=updated_at
table.whitelist=orders
topic.prefix=demo-pg-
poll.interval.ms=1000
CONF
  cat >"$dir/jdbc-sink.properties" <<CONF
name=demo-jdbc-sink
connector.class=jdbc-sink
connect.topicnames=demo-pg-orders
connection.url=jdbc:mariadb://127.0.0.1:$DB_MYSQL_PORT/$DB_DATABASE
connection.user=$DB_USER
connection.password=$DB_PASSWORD
table.name.format=orders
insert.mode=upsert
pk.mode=record_value
pk.fields=id
auto.create=true
auto.evolve=true
delivery.guarantee=exactly_once
ordering.msg.enable=true
CONF
  cat <<MSG
jdbc demo: PostgreSQL 127.0.0.1:$DB_PG_PORT table orders -> topic demo-pg-orders -> MariaDB 127.0.0.1:$DB_MYSQL_PORT table orders
  add rows:   PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p $DB_PG_PORT -U $DB_USER $DB_DATABASE -c "INSERT INTO orders (customer, amount) VALUES ('you', 1.50)"
  see them:   mariadb -h 127.0.0.1 -P $DB_MYSQL_PORT -u $DB_USER -p$DB_PASSWORD $DB_DATABASE -e 'SELECT * FROM orders'
MSG
}

# watch stops what this call started once nobody holds DB_WATCH_LOCK any more.
watch() {
  [ -n "${DB_WATCH_LOCK:-}" ] || return 0
  [ $# -gt 0 ] || return 0
  local w
  for w in "$@"; do
    setsid flock -x "$DB_WATCH_LOCK" env DB_WATCH_LOCK= DB_DATA_DIR="$DB_DATA_DIR" DB_PG_PORT="$DB_PG_PORT" \
      DB_MYSQL_PORT="$DB_MYSQL_PORT" bash "$script" stop "$w" </dev/null >>"$DB_DATA_DIR/watch.log" 2>&1 9>&- &
  done
}

mkdir -p "$DB_DATA_DIR"
exec 9>"$DB_DATA_DIR/.script.lock"
flock 9
case "$cmd" in
  start)
    started=()
    case "$what" in
      postgres) if start_pg; then started+=(postgres); fi ;;
      mariadb) if start_my; then started+=(mariadb); fi ;;
      all)
        if start_pg; then started+=(postgres); fi
        if start_my; then started+=(mariadb); fi ;;
      *) die "unknown server $what (postgres, mariadb or all)" ;;
    esac
    watch "${started[@]+"${started[@]}"}"
    ;;
  stop)
    case "$what" in
      postgres) stop_pg ;;
      mariadb) stop_my ;;
      all) stop_pg; stop_my ;;
      *) die "unknown server $what (postgres, mariadb or all)" ;;
    esac ;;
  status)
    if pg_running; then echo "postgres: running on 127.0.0.1:$DB_PG_PORT ($pg_dir)"; else echo "postgres: stopped"; fi
    if my_running; then echo "mariadb: running on 127.0.0.1:$DB_MYSQL_PORT ($my_dir)"; else echo "mariadb: stopped"; fi
    urls ;;
  urls) urls ;;
  demo)
    [ -n "${2:-}" ] || die "usage: $0 demo DIR"
    start_pg || true
    start_my || true
    demo "$2" ;;
  *) die "usage: $0 start|stop|status|urls [postgres|mariadb|all] | demo DIR" ;;
esac
