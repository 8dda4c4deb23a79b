# shellcheck shell=bash
# Sourced by the connect-*.sh scripts (not run on its own).

# ours PID MODE: PID is alive and is `rmqconnect MODE` or connect-MODE.sh about to become it,
# so that a pid reused by an unrelated process, or a zombie, does not count.
ours() {
  local pid=$1 mode=$2 arg
  local -a args
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    while IFS= read -r -d '' arg; do args+=("$arg"); done <"/proc/$pid/cmdline" 2>/dev/null || true
  elif command -v ps >/dev/null 2>&1; then
    read -r -a args <<<"$(ps -o args= -p "$pid" 2>/dev/null)" || true
  else
    return 0
  fi
  for arg in ${args[@]+"${args[@]}"}; do
    case "$arg" in "$mode" | "connect-$mode.sh" | */"connect-$mode.sh") return 0 ;; esac
  done
  return 1
}
