# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's side of `bench net`: each measure for ours (10.0.0.3), then Linux (10.0.0.2), $RUNS
# times: $B bytes to the guest's discard port and from its source port, $N HTTP requests.
# Lines: `bench MEASURE GUEST SECONDS AMOUNT`; a failed sample is `bench-failed ...`.
# B, N, RUNS are set before (after wait-linux.sh).
# Each sample also goes to the console, as progress.
echo() { command echo "$@"; command echo "@@rig $*" > /dev/console; }
el() { awk "BEGIN {printf \"%.2f\", $2 - $1}"; }
to_guest() {
  t0=$(now)
  head -c "$B" /dev/zero | socat -t 120 -T 60 - "TCP:$1:9,connect-timeout=10" > /dev/null
  rc=$?
  t1=$(now)
  if [ $rc = 0 ]; then echo "bench to-guest $2 $(el "$t0" "$t1") $B"; else echo "bench-failed to-guest $2 rc $rc"; fi
}
from_guest() {
  t0=$(now)
  n=$(socat -u -T 60 "TCP:$1:19,connect-timeout=10" - | wc -c)
  t1=$(now)
  if [ "$n" = "$B" ]; then echo "bench from-guest $2 $(el "$t0" "$t1") $n"; else echo "bench-failed from-guest $2 got $n bytes"; fi
}
http() {
  ip=$1 who=$2
  i=0
  set --
  while [ $i -lt "$N" ]; do set -- "$@" -o /dev/null "http://$ip/"; i=$((i + 1)); done
  t0=$(now)
  ok=$(curl -s -m 300 -H 'Connection: close' -w '%{http_code}\n' "$@" | grep -c '^200$')
  t1=$(now)
  if [ "$ok" = "$N" ]; then echo "bench http $who $(el "$t0" "$t1") $ok"; else echo "bench-failed http $who $ok of $N"; fi
}
r=0
while [ $r -lt "$RUNS" ]; do
  for m in to_guest from_guest http; do $m 10.0.0.3 ours; $m 10.0.0.2 linux; done
  r=$((r + 1))
done
touch /run/bench-done
