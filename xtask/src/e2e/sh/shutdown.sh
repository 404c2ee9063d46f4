# shellcheck shell=dash
# PUTs a key to app-example at IP, then stops it with `xl shutdown -w` (at most 30 s):
# prints the PUT's status line, "shutdown: rc RC in SECONDS s", and "domain gone" once
# xl lists it no longer (the guest keeps on_poweroff = "destroy").
: "${IP:?}"
printf 'PUT /kv/farewell HTTP/1.1\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  13 'said just now' | nc -w 5 "$IP" 80 | head -1
read -r t0 _ < /proc/uptime
timeout 30 xl shutdown -w "$DOMID"
rc=$?
read -r t1 _ < /proc/uptime
echo "shutdown: rc $rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
i=0
while xl list "$DOMID" > /dev/null 2>&1 && [ $i -lt 20 ]; do
  sleep 0.5
  i=$((i + 1))
done
xl list "$DOMID" > /dev/null 2>&1 || echo "domain gone"
