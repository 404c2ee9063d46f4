# shellcheck shell=dash
# CPU seconds (`xl list`'s Time(s)) the guest uses in 5 s of idling: prints "cpu SECONDS".
cpu_time() { xl list "$DOMID" | awk 'NR == 2 {print $6}'; }
t1=$(cpu_time)
sleep 5
t2=$(cpu_time)
echo "cpu $(awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}')"
