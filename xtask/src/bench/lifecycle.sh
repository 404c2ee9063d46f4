# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's side of `bench lifecycle`: for ours (app-example, 10.0.0.3), then Linux (10.0.0.2),
# $RUNS times: `xl save` to a file, `xl restore` of it, the restore's start to the first ping
# answered, then `xl migrate` to this same host while dom0 pings the guest every 10 ms: the
# migration's time and its downtime (the longest gap between answers).
# Lines: `bench MEASURE GUEST SECONDS 1`. RUNS is set before (after wait-linux.sh).
echo() { command echo "$@"; command echo "@@rig $*" > /dev/console; }
el() { awk "BEGIN {printf \"%.3f\", $2 - $1}"; }
# The longest gap between two answers in `ping -D` output ("[SECONDS] 64 bytes from ..."),
# or nothing with fewer than two answers.
gap() { awk -F'[][]' '/bytes from/ {n++; if (n > 1 && $2 - p > g) g = $2 - p; p = $2} END {if (n > 1) printf "%.3f", g}' "$1"; }
cycle() {
  f=/tmp/bench-$3.save
  t0=$(now); timeout 300 xl save "$3" "$f" > /tmp/xl.out 2>&1; rc=$?; t1=$(now)
  [ $rc = 0 ] || { echo "bench-failed save $2 rc $rc: $(tail -1 /tmp/xl.out)"; return 1; }
  echo "bench save $2 $(el "$t0" "$t1") 1"
  t0=$(now); timeout 300 xl restore "$f" > /tmp/xl.out 2>&1; rc=$?; t1=$(now); rm -f "$f"
  [ $rc = 0 ] || { echo "bench-failed restore $2 rc $rc: $(tail -1 /tmp/xl.out)"; return 1; }
  echo "bench restore $2 $(el "$t0" "$t1") 1"
  /bin/ping -c 1 -i 0.01 -w 60 "$1" > /dev/null 2>&1 || { echo "bench-failed restore-to-ping $2"; return 1; }
  echo "bench restore-to-ping $2 $(el "$t0" "$(now)") 1"
  # The path: dom0's busybox sh runs its own applet for a bare `ping` (iputils' is /bin/ping).
  /bin/ping -D -i 0.01 "$1" > /tmp/ping.out 2>&1 & p=$!
  sleep 1
  t0=$(now); timeout 300 xl migrate -s '' "$3" 'xl migrate-receive' > /tmp/xl.out 2>&1; rc=$?; t1=$(now)
  # SIGINT: ping writes out what it buffered and its summary (SIGTERM would lose them).
  sleep 2; kill -INT $p; wait $p
  [ $rc = 0 ] || { echo "bench-failed migrate $2 rc $rc: $(tail -1 /tmp/xl.out)"; return 1; }
  echo "bench migrate $2 $(el "$t0" "$t1") 1"
  g=$(gap /tmp/ping.out)
  if [ -n "$g" ]; then echo "bench downtime $2 $g 1"; else echo "bench-failed downtime $2: $(tail -2 /tmp/ping.out)"; fi
}
r=0
while [ $r -lt "$RUNS" ]; do
  cycle 10.0.0.3 ours bench-ours
  cycle 10.0.0.2 linux bench-linux
  r=$((r + 1))
done
touch /run/bench-done
