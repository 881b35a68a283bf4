#!/usr/bin/env bash
# One JSON line describing this machine, for the benchmark reports.
PORT=${BENCH_PGPORT:-55432}
pgv=$(psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atc 'show server_version' 2>/dev/null || echo '?')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
printf '{"machine":{"date":"%s","nproc":%s,"cpu":"%s","ram":"%s","node":"%s","postgres":"%s","kernel":"%s"}}\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$cpu" "$mem" "$(node -v)" "$pgv" "$(uname -r)"
