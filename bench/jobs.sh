#!/usr/bin/env bash
# Job queue benchmark: Stratum's queue vs graphile-worker 0.17.3 on the same PostgreSQL 15, in one run.
# Run from anywhere, as root (pg-up.sh uses the postgres OS user):  bash bench/jobs.sh
#   REPS=3  N=20000  PROCS="1 4"  CONC=10  BENCH_PGPORT=55432
# Starts a throwaway cluster with bench/pg-up.sh unless one already answers on the port (then it
# is left running; its databases stratum_bench and gw are dropped and created again), installs bench/node_modules from bench/package-lock.json if missing, and
# writes raw JSON lines to bench/results/jobs-<time>.jsonl before printing the comparison table.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}; N=${N:-20000}; PROCS=${PROCS:-"1 4"}; CONC=${CONC:-10}
PORT=${BENCH_PGPORT:-55432}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  bash bench/pg-up.sh
  trap 'bash bench/pg-down.sh' EXIT
fi
[ -d bench/node_modules/graphile-worker ] || npm ci --prefix bench --no-audit --no-fund --loglevel=error
# Fresh databases for every run: ours is migrated by jobs.bench.ts, graphile-worker's by gw.bench.js.
psql "postgres://postgres@127.0.0.1:$PORT/postgres" -qAt -c 'drop database if exists stratum_bench with (force)' \
  -c 'drop database if exists gw with (force)' -c 'create database stratum_bench' -c 'create database gw'
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/stratum_bench"
export GW_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/gw"
mkdir -p bench/results
OUT=${OUT:-bench/results/jobs-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
: > "$OUT"
log() { tee -a "$OUT"; }
ours() { npx tsx bench/jobs.bench.ts "$@"; }
gw() { node bench/gw.bench.js "$@"; }
bash bench/machine.sh | log
echo "{\"config\":{\"reps\":$REPS,\"n\":$N,\"procs\":\"$PROCS\",\"concurrency\":$CONC}}" | log
# One repetition of one queue: VACUUM ANALYZE + CHECKPOINT, fill, drain; then the same for e2e.
rep() {
  local q=$1 p=$2
  $q reset; $q fill "$N" | log; bash bench/quiet.sh | log; $q drain "$p" "$CONC" | log
  $q reset; bash bench/quiet.sh | log; $q e2e "$p" "$CONC" "$N" | log
}
for r in $(seq 1 "$REPS"); do
  for p in $PROCS; do
    echo "== rep $r/$REPS, $p process(es) x $CONC ==" >&2
    # alternate who goes first, so that drift (autovacuum, WAL recycling, a neighbour) hits both
    if [ $((r % 2)) = 1 ]; then rep ours "$p"; rep gw "$p"; else rep gw "$p"; rep ours "$p"; fi
  done
done
node bench/report.js "$OUT"
