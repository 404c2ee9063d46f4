# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's side of `bench http`: ApacheBench at each concurrency against ours (10.0.0.3), then
# Linux with nginx (10.0.0.2), $RUNS times, each answer a new connection (no -k).
# Lines: `bench http-cC GUEST SECONDS REQUESTS`. N, RUNS are set before (after wait-linux.sh).
echo() { command echo "$@"; command echo "@@rig $*" > /dev/console; }
ulimit -n 4096
ab_run() {
  ab -q -s 30 -n "$N" -c "$2" "http://$1/hello" > /tmp/ab.out 2>&1
  rc=$?
  secs=$(awk '/^Time taken for tests:/ {print $5}' /tmp/ab.out)
  done=$(awk '/^Complete requests:/ {print $3}' /tmp/ab.out)
  bad=$(awk '/^Failed requests:/ {print $3}' /tmp/ab.out)
  if [ $rc = 0 ] && [ "$done" = "$N" ] && [ "$bad" = 0 ] && ! grep -q Non-2xx /tmp/ab.out; then
    echo "bench http-c$2 $3 $secs $done"
  else
    echo "bench-failed http-c$2 $3 rc $rc: $(grep -E '^(Failed|Non-2xx)|apr_' /tmp/ab.out | tr '\n' ' ')"
  fi
}
r=0
while [ $r -lt "$RUNS" ]; do
  for c in 1 10 100; do ab_run 10.0.0.3 $c ours; ab_run 10.0.0.2 $c linux; done
  r=$((r + 1))
done
touch /run/bench-done
