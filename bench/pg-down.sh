#!/usr/bin/env bash
# Stops the cluster started by bench/pg-up.sh and removes its scratch folder.
set -euo pipefail
DIR=${BENCH_PGDIR:-/tmp/stratum-bench-pg}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -d "$DIR/data" ] || { echo "no cluster in $DIR"; exit 0; }
su postgres -c "$PGBIN/pg_ctl -D $DIR/data -m fast -w stop" >/dev/null || true
[ "${KEEP_PGDIR:-0}" = 1 ] || rm -rf "$DIR"
echo "PostgreSQL in $DIR stopped"
