# shellcheck shell=bash
# Shared bash helpers for scripts/setup, scripts/images and scripts/quickstart.
# Source it; it does not change shell options of the caller.

# Prefix for progress lines; callers set LOG_PREFIX before sourcing or later.
LOG_PREFIX=${LOG_PREFIX:-berth}

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*"; }
warn() { printf '%s: warning: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() { printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# Print the last lines of a log file to stderr (used when something fails to start).
log_tail() {
  local file=$1 lines=${2:-40}
  if [ -f "$file" ]; then
    printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
    printf -- '---\n' >&2
  fi
}

# True if a Docker engine answers (docker itself honours DOCKER_HOST / contexts).
docker_ok() { docker info >/dev/null 2>&1; }

# Print the PID recorded in a pidfile (nothing if missing or not a number).
pidfile_pid() {
  local pid
  [ -f "$1" ] || return 0
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && printf '%s\n' "$pid"
  return 0
}

# True if PID runs. A zombie does not count: an init that is slow to reap
# orphans (or never does) would keep it visible to kill -0.
pid_running() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed -E 's/^.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# pid_alive PIDFILE [MATCH]
# True if the pidfile names a running process. With MATCH, the process's
# command line must also contain MATCH, so a recycled PID is not mistaken
# for ours (and never signalled by stop_pidfile).
pid_alive() {
  local pid
  pid=$(pidfile_pid "$1")
  [ -n "$pid" ] || return 1
  pid_running "$pid" || return 1
  if [ -n "${2:-}" ]; then
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  fi
  return 0
}

# start_bg PIDFILE LOGFILE CMD [ARGS...]
# Start CMD detached (own session, immune to SIGHUP) so it outlives this
# script. The child writes its own PID before exec'ing CMD, so the pidfile
# holds the real PID even if setsid has to fork.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner sh
  setsid nohup sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" \
    >>"$logfile" 2>&1 </dev/null &
  # Wait briefly for the pidfile so callers can rely on it.
  for _ in $(seq 1 50); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start $1 (no pidfile $pidfile); see $logfile"
}

# stop_pidfile PIDFILE [MATCH] [TIMEOUT]
# SIGTERM the process named in PIDFILE, wait up to TIMEOUT seconds (default
# 10), then SIGKILL. Only that one PID is signalled. Removes the pidfile.
stop_pidfile() {
  local pidfile=$1 match=${2:-} timeout=${3:-10} pid
  pid=$(pidfile_pid "$pidfile")
  if [ -z "$pid" ] || ! pid_alive "$pidfile" "$match"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((timeout * 10))); do
    pid_running "$pid" || break
    sleep 0.1
  done
  if pid_running "$pid"; then
    warn "PID $pid did not exit after ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$pidfile"
}

# wait_for_file FILE TIMEOUT_SECONDS [PIDFILE]
# Wait until FILE exists (non-empty). With PIDFILE, give up early if that
# process dies. Returns 1 on timeout or death.
wait_for_file() {
  local file=$1 timeout=$2 pidfile=${3:-}
  for _ in $(seq 1 $((timeout * 10))); do
    [ -s "$file" ] && return 0
    if [ -n "$pidfile" ] && ! pid_alive "$pidfile"; then
      return 1
    fi
    sleep 0.1
  done
  [ -s "$file" ]
}
