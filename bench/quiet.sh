#!/usr/bin/env bash
# Waits (at most QUIET_MAX_S, default 90 s) until the machine is at least QUIET_IDLE % idle over one
# second, so that a measurement does not start while another process (a test run, a build) is
# busy on this 2-core box. Prints one JSON line with what it saw; never fails.
want=${QUIET_IDLE:-85}; max=${QUIET_MAX_S:-90}; waited=0
idle_pct() {
  read -r _ u n s i w x y z _ < /proc/stat; t0=$((u+n+s+i+w+x+y+z)); i0=$((i+w))
  sleep 1
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u+n+s+i+w+x+y+z)); i1=$((i+w))
  echo $(( 100 * (i1-i0) / (t1-t0 > 0 ? t1-t0 : 1) ))
}
while :; do
  p=$(idle_pct)
  if [ "$p" -ge "$want" ] || [ "$waited" -ge "$max" ]; then break; fi
  waited=$((waited+1))
done
printf '{"quiet":{"idlePct":%s,"waitedS":%s,"ok":%s}}\n' "$p" "$waited" "$([ "$p" -ge "$want" ] && echo true || echo false)"
