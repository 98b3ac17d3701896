#!/usr/bin/env bash
# Makes sure the servers the integration tests talk to are up: Redis on 127.0.0.1:6379 and
# PostgreSQL on 127.0.0.1:5432 (the development and CI machines have both installed). Starts a
# stopped one with its standard command; fails loudly (never skips) when it cannot be reached.
set -uo pipefail

REDIS_HOST=127.0.0.1 REDIS_PORT=6379 PG_HOST=127.0.0.1 PG_PORT=5432

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port name seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do port_open "$1" "$2" && return 0; sleep 0.1; done
  return 1
}

if ! port_open $REDIS_HOST $REDIS_PORT; then
  echo "services: Redis is not running on $REDIS_HOST:$REDIS_PORT; starting it" >&2
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log \
      || redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no
  else
    echo "services: redis-server is not installed; installing it from Debian" >&2
    (apt-get update -qq && apt-get install -y -qq redis-server) >&2 || true
    redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no || true
  fi
  wait_port $REDIS_HOST $REDIS_PORT redis 10 || { echo "services: FATAL: Redis still unreachable on $REDIS_HOST:$REDIS_PORT" >&2; exit 1; }
fi

if ! port_open $PG_HOST $PG_PORT; then
  echo "services: PostgreSQL is not running on $PG_HOST:$PG_PORT; starting it" >&2
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
  wait_port $PG_HOST $PG_PORT postgres 20 || { echo "services: FATAL: PostgreSQL still unreachable on $PG_HOST:$PG_PORT" >&2; exit 1; }
fi

echo "services: Redis $REDIS_HOST:$REDIS_PORT and PostgreSQL $PG_HOST:$PG_PORT are up" >&2
