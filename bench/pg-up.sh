#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for the benchmarks: initdb defaults (shared_buffers 128 MB,
# fsync and synchronous_commit on), trust auth, listening on 127.0.0.1 only. Run as root: the
# server runs as the `postgres` OS user. Same recipe as shared/bench/peers.md.
#   BENCH_PGPORT (55432)  BENCH_PGDIR (/tmp/stratum-bench-pg, wiped first)
set -euo pipefail
PORT=${BENCH_PGPORT:-55432}
DIR=${BENCH_PGDIR:-/tmp/stratum-bench-pg}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL 15 not found in $PGBIN (apt-get install -y postgresql-15)" >&2; exit 1; }
if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then echo "something already listens on 127.0.0.1:$PORT; run bench/pg-down.sh or set BENCH_PGPORT" >&2; exit 1; fi
rm -rf "$DIR"; mkdir -p "$DIR"; chmod 755 "$DIR"; chown postgres: "$DIR"
su postgres -c "$PGBIN/initdb -D $DIR/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" > "$DIR/initdb.log"
su postgres -c "$PGBIN/pg_ctl -D $DIR/data -l $DIR/server.log -w -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1' start" >/dev/null
psql "postgres://postgres@127.0.0.1:$PORT/postgres" -qAtc 'create database stratum_bench' -c 'create database gw'
psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atc 'show server_version'
echo "PostgreSQL up on 127.0.0.1:$PORT (data in $DIR/data); databases stratum_bench, gw"
