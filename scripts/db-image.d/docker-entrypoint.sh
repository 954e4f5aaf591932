#!/bin/bash
# Entrypoint of berth.local/db:1 (scripts/db-image). For `mariadbd` (the default
# command) it does what the official MariaDB/MySQL images do on a first start:
# with an empty /var/lib/mysql it creates the system tables and the account
# root@'%' (empty password with MYSQL_ALLOW_EMPTY_PASSWORD or
# MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, else MYSQL_ROOT_PASSWORD or
# MARIADB_ROOT_PASSWORD), then runs the server as user mysql. A data directory
# that already holds a database (e.g. restored by mariabackup) is only handed
# to user mysql. Any other command runs as given.
set -euo pipefail

# `docker run IMAGE --opt` means `mariadbd --opt`.
if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi
case $1 in
  mariadbd | mysqld) ;;
  *) exec "$@" ;;
esac

say() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*"; }

datadir=$(my_print_defaults --mysqld | sed -n 's/^--datadir=//p' | tail -n 1)
datadir=${datadir:-/var/lib/mysql}
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
  password=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
  if [ -z "$password" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" ]; then
    echo "error: $datadir holds no database and no root password is set:" >&2
    echo "  set MYSQL_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD) or MYSQL_ALLOW_EMPTY_PASSWORD=1" >&2
    exit 1
  fi
  say "initialising $datadir"
  chown -R mysql:mysql "$datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --skip-name-resolve \
    --auth-root-authentication-method=normal >/dev/null
  socket=/run/mysqld/init.sock
  "$@" --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" --skip-log-bin &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "error: the server ended during initialisation" >&2; exit 1; }
    sleep 0.5
  done
  quoted=${password//\\/\\\\}
  quoted=${quoted//\'/\\\'}
  mariadb --socket="$socket" -uroot <<SQL
SET @@SESSION.SQL_LOG_BIN = 0;
CREATE USER 'root'@'%' IDENTIFIED BY '$quoted';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$quoted';
SQL
  mariadb-admin --socket="$socket" -uroot ${password:+"-p$password"} shutdown
  wait "$pid" || true
  say "initialised"
else
  # Restored from a backup (as root) or owned by another uid: the server runs as mysql.
  find "$datadir" \! -user mysql -exec chown mysql:mysql {} +
fi

exec "$@" --user=mysql
