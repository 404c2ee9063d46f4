# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's side of `bench boot` for one guest, run right after its `xl create`: waits until it
# is ready (READY: "http" for the first HTTP 200 from http://IP/hello, else the console text),
# then prints `bench MEASURE WHO VALUE 1` lines: ready and first-output (seconds after
# `xl create` began), entry-to-main (seconds: ours from the runtime's boot line, Linux its
# uptime when init starts), and for ours the xenstore requests and hypercalls made (from
# /metrics once ready, or from the boot line). NAME, WHO, READY, IP are set before this.
el() { awk "BEGIN {printf \"%.3f\", $2 - $1}"; }
o=/out/$NAME
log=$(console_log "$NAME")
t0=$(cat "$o/t_create")
# At most 120 s after the create (a deadline, since each curl may wait its 1 s).
late() { awk "BEGIN {exit !($(now) - $t0 > 120)}"; }
if [ "$READY" = http ]; then
  until [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://$IP/hello")" = 200 ]; do
    late && { echo "bench-failed ready $WHO: no HTTP 200 within 120 s"; exit 1; }
    sleep 0.05
  done
else
  until grep -qF -- "$READY" "$log" 2> /dev/null; do
    late && { echo "bench-failed ready $WHO: no \"$READY\" within 120 s"; exit 1; }
    sleep 0.02
  done
fi
echo "bench ready $WHO $(el "$t0" "$(now)") 1"
[ -s "$o/t_first_output" ] && echo "bench first-output $WHO $(el "$t0" "$(cat "$o/t_first_output")") 1"
if [ "$WHO" = linux ]; then
  up=$(sed -n 's/.*linux-guest: up \([0-9.]*\).*/\1/p' "$log" | tail -1)
  [ -n "$up" ] && echo "bench entry-to-main $WHO $up 1"
  exit 0
fi
# "boot: N TSC cycles (U us) from first instruction to main; R xenstore requests, H hypercalls"
line=$(grep -F 'boot: ' "$log" | grep -F 'TSC cycles' | tail -1)
us=$(echo "$line" | sed -n 's/.*TSC cycles (\([0-9]*\) us).*/\1/p')
[ -n "$us" ] && echo "bench entry-to-main $WHO $(awk "BEGIN {printf \"%.6f\", $us / 1000000}") 1"
if [ "$READY" = http ]; then
  m=$(curl -s -m 5 "http://$IP/metrics")
  req=$(echo "$m" | awk '/^xen_xenstore_requests_total / {print $2}')
  calls=$(echo "$m" | awk '/^xen_hypercalls_total / {print $2}')
else
  req=$(echo "$line" | sed -n 's/.*; \([0-9]*\) xenstore requests.*/\1/p')
  calls=$(echo "$line" | sed -n 's/.*, \([0-9]*\) hypercalls.*/\1/p')
fi
[ -n "$req" ] && echo "bench xenstore-requests $WHO $req 1"
[ -n "$calls" ] && echo "bench hypercalls $WHO $calls 1"
exit 0
