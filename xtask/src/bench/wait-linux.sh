# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's wait (at most 300 s) for the Linux guest's console to say `linux-guest: $WHAT`;
# without it the benchmark is marked done with `bench-failed linux: $FAILED`. Not
# rig_wait_output: the Linux guest may be in its one boot retry. WHAT, FAILED are set before.
i=0
while ! grep -q "linux-guest: $WHAT" "$(console_log bench-linux)" 2> /dev/null; do
  [ $i -ge 300 ] && { echo "bench-failed linux: $FAILED"; touch /run/bench-done; exit 1; }
  sleep 1
  i=$((i + 1))
done
